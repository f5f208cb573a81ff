import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { type Caller, permits } from "../domain/access.js";
import {
  AUDIT_OK,
  type AuditActor,
  actorOf,
  auditResultOf,
  boundedTargets,
} from "../domain/audit.js";
import type { CircuitBreakerSnapshot } from "../domain/breaker.js";
import { GatewayError, httpStatusOf, isGatewayError } from "../domain/errors.js";
import type { Metrics } from "../metrics.js";
import type { SystemHealth } from "../services/health.js";
import type { Services } from "../services/index.js";
import type { RateLimited } from "../services/rate-limit.js";
import { createApiDocs } from "./api-docs.js";
import { PayloadTooLargeError, readBody } from "./body.js";
import type { DashboardAssets } from "./dashboard-assets.js";
import type { FederatedGraph } from "./federation.js";
import {
  FEDERATION_FORBIDDEN,
  forwardedHeaders,
  notComposedMessage,
  wantsExplain,
} from "./federation-request.js";
import { createGraphiQLPage, type GraphiQLPage } from "./graphiql-page.js";
import { type Gateway, GRAPHQL_PATH, type ServerContext } from "./graphql.js";
import { serveJsonFast } from "./graphql-fast-path.js";
import { newRequestId } from "./request-id.js";
import { answerTargets, type RestAudit, type RestResponse, type RestRoutes } from "./rest.js";

export type HttpServerOptions = {
  graphql: Gateway;
  federation: {
    graph: FederatedGraph;
    /** FEDERATION_PATH. */
    path: string;
    /** FEDERATION_FORWARD_HEADERS. */
    forwardHeaders: readonly string[];
  };
  rest: RestRoutes;
  services: Services;
  metrics: Metrics;
  log: Logger;
  serviceName: string;
  /** The gateway's version, for /openapi.json. */
  version: string;
  maxRequestBodyBytes: number;
  /** GRAPHIQL: the page is served (compressed, with an ETag) on GET /graphql and the federation path. */
  graphiql: boolean;
  /** The live dashboard at `/` and `/dashboard`, public as GraphiQL's page is. */
  dashboard: DashboardAssets;
};

/**
 * Listens on port (0: any free one); rejects on a port in use (EADDRINUSE) or one it may
 * not bind (EACCES), without leaving the server half-started.
 */

/**
 * One request listener for everything on the port: probes and metrics answered here,
 * GraphQL handed to yoga with the body already read (and bounded), the seed's REST routes.
 */
export function createRequestListener(options: HttpServerOptions): RequestListener {
  const { graphql, federation, rest, services, metrics, log, maxRequestBodyBytes } = options;
  const docs = createApiDocs(() => rest.openApi(options.version));
  // Rendered by yoga (and by the federation runtime, which adds its own options) once, in
  // process, as an anonymous caller: the page is the same for everyone.
  const pageOf = (answer: (url: string, init: RequestInit) => Response | Promise<Response>) =>
    createGraphiQLPage(async () => {
      const response = await answer(`http://gateway${GRAPHQL_PATH}`, {
        headers: { accept: "text/html" },
      });
      const html = await response.text();
      const type = response.headers.get("content-type") ?? "";
      return response.status === 200 && type.startsWith("text/html") ? html : null;
    });
  const graphiqlPages: { graphql: GraphiQLPage; federation: GraphiQLPage } | null = options.graphiql
    ? {
        graphql: pageOf((url, init) =>
          graphql.fetch(url, init, {
            requestId: newRequestId(undefined),
            caller: services.access.anonymous(null),
          }),
        ),
        federation: pageOf(async (url, init) =>
          (await federation.graph.runtime()).fetch(
            url.replace(GRAPHQL_PATH, federation.path),
            init,
            {
              requestId: newRequestId(undefined),
              caller: services.access.anonymous(null),
              traceparent: null,
              forwarded: {},
              explain: null,
            },
          ),
        ),
      }
    : null;

  const { dashboard } = options;
  const routeFamily = (path: string) =>
    path === GRAPHQL_PATH
      ? "graphql"
      : path === federation.path
        ? "federation"
        : path.startsWith("/health/")
          ? "health"
          : path === "/metrics"
            ? "metrics"
            : rest.owns(path)
              ? "rest"
              : docs.owns(path)
                ? "docs"
                : "other";

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    url: URL,
    family: ReturnType<typeof routeFamily>,
  ) {
    const open =
      needsNoToken(req, url, federation.path) ||
      dashboard.owns(req, url.pathname) ||
      family === "docs" ||
      (family === "rest" && rest.isPublic(req.method ?? "GET", url.pathname));
    const caller = open ? null : authenticate(req);
    if (caller instanceof GatewayError) {
      // A change attempted without a valid token is recorded, as anonymous at its address.
      // Only over REST, where the route says so without reading the body: telling a
      // GraphQL mutation from a query would mean parsing a stranger's document.
      const attempted = family === "rest" ? rest.audited(req.method ?? "GET", url) : null;
      if (attempted) {
        const stranger = { tokenId: null, name: null, role: null, address: addressOf(req) };
        recordRest(attempted, stranger, requestId, caller.code, []);
      }
      return refuse(res, family, caller);
    }
    if (family !== "other" && !isProbe(url.pathname) && services.rateLimiter.enabled) {
      const limited = await services.rateLimiter.check(caller ?? anonymous(req));
      if (limited) {
        metrics.rateLimited.inc({ surface: family });
        return refuseRateLimited(res, family, limited);
      }
    }
    switch (family) {
      case "graphql": {
        if (caller === null && graphiqlPages && (await graphiqlPages.graphql.answer(req, res))) {
          return;
        }
        const context: ServerContext = {
          requestId,
          caller: caller ?? anonymous(req),
          traceparent: headerValue(req.headers.traceparent),
        };
        if (req.method === "POST") {
          // A form or text/plain POST is a "simple" request a browser sends cross-site
          // without asking first (no CORS preflight): refused, against request forgery.
          if (!GRAPHQL_BODY_TYPES.has(mediaTypeOf(req))) {
            req.resume();
            return sendGraphQLError(res, 415, unsupportedBody(GRAPHQL_PATH), "BAD_REQUEST");
          }
          const body = await readBody(req, maxRequestBodyBytes);
          if (isJsonArray(body)) {
            return sendGraphQLError(res, 400, BATCH_REFUSED, "BAD_REQUEST");
          }
          if (await serveJsonFast(graphql, req, res, body, context)) return;
          // yoga reads a body it finds on the request instead of re-streaming it.
          (req as IncomingMessage & { body?: Buffer }).body = body;
        }
        endOnRevocation(res, context.caller);
        await graphql(req, res, context);
        return;
      }
      case "federation":
        return answerFederated(req, res, requestId, caller);
      case "docs":
        if (req.method === "GET" && docs.answer(url.pathname, res)) return;
        return sendJson(res, 404, notFoundBody(req, url));
      case "health":
        return health(url.pathname, res);
      case "metrics":
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
        return;
      case "rest": {
        const restCaller = caller ?? anonymous(req);
        const audit = rest.audited(req.method ?? "GET", url);
        let answer: RestResponse | null;
        try {
          answer = await answerRest(req, url, restCaller, requestId);
        } catch (error) {
          if (audit) recordRest(audit, actorOf(restCaller), requestId, auditResultOf(error), []);
          throw error;
        }
        if (audit && answer) {
          // A refusal answered rather than thrown (405, 415) is no change made.
          const result = answer.status < 400 ? AUDIT_OK : refusalCodeOf(answer);
          recordRest(audit, actorOf(restCaller), requestId, result, answerTargets(answer));
        }
        if (answer) return sendJson(res, answer.status, withMessage(answer.body));
        return sendJson(res, 404, notFoundBody(req, url));
      }
      default:
        // The page itself needs no token: it asks for one and sends it with its requests.
        if (dashboard.owns(req, url.pathname) && (await dashboard.answer(req, res, url.pathname))) {
          return;
        }
        if (url.pathname === "/" && req.method === "GET") {
          return sendJson(res, 200, {
            service: options.serviceName,
            status: "running",
            graphql: GRAPHQL_PATH,
            federation: federation.path,
            documentation: "/docs",
            dashboard: "/dashboard",
          });
        }
        return sendJson(res, 404, notFoundBody(req, url));
    }
  }

  /**
   * The federated graph, under the same rules as /graphql (token, rate limit, JSON bodies
   * only, no batches), for callers that may call services. Until a supergraph is
   * composed it answers 503 saying why, rather than the runtime's 500.
   */
  async function answerFederated(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    authenticated: Caller | null,
  ): Promise<void> {
    const caller = authenticated ?? anonymous(req);
    const servesPage = authenticated === null;
    if (!servesPage && !permits(caller, "callServices")) {
      req.resume();
      return sendGraphQLError(res, 403, FEDERATION_FORBIDDEN, "FORBIDDEN");
    }
    if (services.supergraph.current() === null) {
      req.resume();
      res.setHeader("retry-after", "1");
      return sendGraphQLError(
        res,
        503,
        notComposedMessage(services.supergraph.snapshot()),
        "SERVICE_UNAVAILABLE",
      );
    }
    if (servesPage && graphiqlPages && (await graphiqlPages.federation.answer(req, res))) return;
    if (req.method === "POST") {
      if (!GRAPHQL_BODY_TYPES.has(mediaTypeOf(req))) {
        req.resume();
        return sendGraphQLError(res, 415, unsupportedBody(federation.path), "BAD_REQUEST");
      }
      const body = await readBody(req, maxRequestBodyBytes);
      if (isJsonArray(body)) return sendGraphQLError(res, 400, BATCH_REFUSED, "BAD_REQUEST");
      (req as IncomingMessage & { body?: Buffer }).body = body;
    }
    endOnRevocation(res, caller);
    await federation.graph.handle(req, res, {
      requestId,
      caller,
      traceparent: headerValue(req.headers.traceparent),
      forwarded: forwardedHeaders(req.headers, federation.forwardHeaders),
      explain: wantsExplain(req.headers, caller) ? [] : null,
    });
  }

  async function answerRest(
    req: IncomingMessage,
    url: URL,
    caller: Caller,
    requestId: string,
  ): Promise<RestResponse | null> {
    const raw =
      req.method === "GET" || req.method === "HEAD"
        ? null
        : await readBody(req, maxRequestBodyBytes);
    if (raw && raw.length > 0 && mediaTypeOf(req) !== "application/json") {
      // As on /graphql: no form or text/plain body a browser could send cross-site.
      return {
        status: 415,
        body: {
          detail: "A request body must be JSON: send content-type application/json.",
          code: "BAD_REQUEST",
        },
      };
    }
    return rest.handle({
      method: req.method ?? "GET",
      url,
      caller,
      requestId,
      headers: req.headers,
      body: raw && raw.length > 0 ? parseJson(raw) : undefined,
    });
  }

  function recordRest(
    audit: RestAudit,
    actor: AuditActor,
    requestId: string,
    result: string,
    answered: string[],
  ): void {
    services.audit.record({
      actor,
      transport: "rest",
      operation: audit.operation,
      targets: boundedTargets([...audit.targets, ...answered]),
      result,
      requestId,
    });
  }

  /** The caller, or the UNAUTHENTICATED error to answer with (tokens mode only). */
  function authenticate(req: IncomingMessage): Caller | GatewayError {
    try {
      return services.access.authenticate(req.headers.authorization, addressOf(req));
    } catch (error) {
      if (isGatewayError(error)) return error;
      throw error;
    }
  }

  /** Anonymous in open mode: what a request that needs no token acts as. */
  /**
   * A response still open when its API token is revoked or expires (an SSE stream) is
   * ended, as a WebSocket is closed: a revoked token stops working on every surface.
   * Tokens from the environment cannot be revoked, so their requests watch nothing.
   */
  function endOnRevocation(res: ServerResponse, caller: Caller): void {
    const tokenId = caller.tokenId;
    if (tokenId === null || !services.access.isRevocable(tokenId)) return;
    const stop = services.access.onInvalidated((invalidated) => {
      if (invalidated === tokenId) res.end();
    });
    res.once("close", stop);
  }

  /**
   * A request that needs no token (GraphiQL's page, say) acts as nobody: anonymous in open
   * mode, and in tokens mode a caller with no permission at all.
   */
  function anonymous(req: IncomingMessage): Caller {
    return services.access.anonymous(addressOf(req));
  }

  async function health(path: string, res: ServerResponse) {
    if (path === "/health/alive") return sendJson(res, 200, { status: "alive" });
    if (path === "/health/ready") {
      const { ready, dependencies } = await services.readiness.check();
      const failing = dependencies.filter((dependency) => !dependency.ok);
      return ready
        ? sendJson(res, 200, { status: "ready", dependencies })
        : sendJson(res, 503, {
            status: "not ready",
            failing: failing.map((dependency) => `${dependency.name}: ${dependency.error}`),
            dependencies,
          });
    }
    if (path === "/health/system")
      return sendJson(res, 200, toSeedSystemHealth(await services.health.system()));
    if (path === "/health/circuit-breakers") {
      const breakers = await services.breakers.list();
      return sendJson(res, 200, {
        circuit_breakers: Object.fromEntries(breakers.map((b) => [b.serviceId, toSeedBreaker(b)])),
      });
    }
    return sendJson(res, 404, { detail: `No route for ${path}` });
  }

  return (req, res) => {
    const started = performance.now();
    const requestId = newRequestId(req.headers["x-request-id"] as string | undefined);
    res.setHeader("x-request-id", requestId);
    const url = parseRequestUrl(req.url);
    if (!url) return sendJson(res, 400, { detail: "Malformed request target." });
    const family = routeFamily(url.pathname);
    res.once("finish", () => {
      metrics.httpRequests.inc({ route: family, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route: family }, (performance.now() - started) / 1000);
    });
    if ((family === "graphql" || family === "federation") && acceptsEventStream(req)) {
      // Open while the response is: an SSE subscription, until either side ends it.
      const stream = { endpoint: family, transport: "sse" };
      metrics.subscriptions.inc(stream);
      res.once("close", () => metrics.subscriptions.dec(stream));
    }
    route(req, res, requestId, url, family).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof PayloadTooLargeError) {
        res.setHeader("connection", "close");
        return sendJson(res, 413, {
          detail: error.message,
          message: error.message,
          code: error.code,
        });
      }
      if (isGatewayError(error)) {
        return sendJson(res, httpStatusOf[error.code], {
          detail: error.message,
          message: error.message,
          code: error.code,
          ...error.details,
        });
      }
      log.error({ err: error, requestId, path: url.pathname }, "unexpected error");
      sendJson(res, 500, { detail: "Unexpected error.", code: "INTERNAL_SERVER_ERROR", requestId });
    });
  };
}

/** The seed's SystemHealthResponse, with what this gateway adds. */
function toSeedSystemHealth(health: SystemHealth) {
  return {
    status: health.status,
    reasons: health.reasons,
    service_statuses: Object.fromEntries(health.services.map((s) => [s.id, s.status])),
    circuit_breaker_statuses: Object.fromEntries(
      health.circuitBreakers.map((b) => [b.serviceId, toSeedBreaker(b)]),
    ),
    dependencies: health.dependencies,
    counts: health.counts,
    self_preservation: health.selfPreservation,
    checked_at: health.checkedAt,
    execution_time_ms: health.executionTimeMs,
  };
}

/** The seed's CircuitBreakerStatus, with the configuration its docstring promised. */
function toSeedBreaker(b: CircuitBreakerSnapshot) {
  return {
    service_id: b.serviceId,
    state: b.state,
    failure_count: b.failureCount,
    consecutive_failures: b.consecutiveFailures,
    last_failure_time: b.lastFailureAt,
    last_state_change_time: b.lastStateChangeAt,
    failure_threshold: b.failureThreshold,
    reset_timeout_ms: b.resetTimeoutMs,
    half_open_max_calls: b.halfOpenMaxCalls,
  };
}

/** Null for a request target no URL parser accepts (e.g. `//[`), which must not throw here. */
function parseRequestUrl(target: string | undefined): URL | null {
  try {
    return new URL(target ?? "/", "http://gateway");
  } catch {
    return null;
  }
}

/**
 * What answers without a token in tokens mode: liveness and readiness (orchestrators
 * send none), the root's name and version, and GraphiQL's page itself (its requests
 * carry the token from its headers editor).
 */
function needsNoToken(req: IncomingMessage, url: URL, federationPath: string): boolean {
  if (url.pathname === "/health/alive" || url.pathname === "/health/ready") return true;
  if (url.pathname === "/" && req.method === "GET") return true;
  return (
    (url.pathname === GRAPHQL_PATH || url.pathname === federationPath) &&
    req.method === "GET" &&
    !url.searchParams.has("query") &&
    (req.headers.accept ?? "").includes("text/html")
  );
}

/** Liveness and readiness: orchestrators poll them, and no caller is counted for them. */
function isProbe(path: string): boolean {
  return path === "/health/alive" || path === "/health/ready";
}

/**
 * What a GraphQL POST may carry. `application/graphql+json` is the older name yoga also
 * reads; forms (urlencoded, multipart: yoga would read a multipart upload), text/plain
 * and `application/graphql` are refused. Only the JSON types need a CORS preflight.
 */
const GRAPHQL_BODY_TYPES = new Set(["application/json", "application/graphql+json"]);
const unsupportedBody = (path: string) =>
  `POST ${path} takes a JSON body: send content-type application/json (forms and text/plain are refused, against cross-site request forgery).`;
const BATCH_REFUSED = "Batched operations are not accepted: send one operation per request.";

/** The media type of the request body, lower-cased and without parameters; "" when none. */
function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Whether a body is a JSON array (a batch), from its first byte that is not whitespace. */
function isJsonArray(body: Buffer): boolean {
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x5b;
  }
  return false;
}

function sendGraphQLError(
  res: ServerResponse,
  status: number,
  message: string,
  code: string,
  extensions: Record<string, unknown> = {},
) {
  sendJson(res, status, { errors: [{ message, extensions: { code, ...extensions } }] });
}

/** 429 with Retry-After, in the shape of the surface asked. */
function refuseRateLimited(res: ServerResponse, family: string, limited: RateLimited) {
  const retryAfter = limited.retryAfterSeconds;
  res.setHeader("retry-after", String(retryAfter));
  const message = `Too many requests: try again in ${retryAfter} s.`;
  if (family === "graphql" || family === "federation") {
    return sendGraphQLError(res, 429, message, "RATE_LIMITED", { retryAfter });
  }
  return sendJson(res, 429, { detail: message, message, code: "RATE_LIMITED", retryAfter });
}

/** 401 in the shape of the surface asked: GraphQL errors on /graphql, `{detail, code}` elsewhere. */
function refuse(res: ServerResponse, family: string, error: GatewayError) {
  res.setHeader("www-authenticate", 'Bearer realm="service-integration-gateway"');
  if (family === "graphql" || family === "federation") {
    return sendJson(res, 401, {
      errors: [{ message: error.message, extensions: { code: error.code } }],
    });
  }
  return sendJson(res, 401, { detail: error.message, message: error.message, code: error.code });
}

function addressOf(req: IncomingMessage): string | null {
  return req.socket.remoteAddress ?? null;
}

function headerValue(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    throw new GatewayError("BAD_USER_INPUT", "The body is not valid JSON.", { field: "body" });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

/** A 404 in the seed's shape, with the `message` its shared client reads. */
function notFoundBody(req: IncomingMessage, url: URL) {
  const detail = `No route for ${req.method} ${url.pathname}`;
  return { detail, message: detail, code: "NOT_FOUND" };
}

/**
 * The seed answered errors as `{detail}`, its shared client reads `message`: a REST
 * error carries both.
 */
function withMessage(body: unknown): unknown {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return body;
  const { detail, message } = body as { detail?: unknown; message?: unknown };
  return typeof detail === "string" && message === undefined ? { ...body, message: detail } : body;
}

/** The code a REST refusal carries, or its HTTP status when it names none. */
function refusalCodeOf(answer: RestResponse): string {
  const body = answer.body as { code?: unknown } | undefined;
  return typeof body?.code === "string" ? body.code : `HTTP_${answer.status}`;
}

function acceptsEventStream(req: IncomingMessage): boolean {
  return req.headers.accept?.includes("text/event-stream") ?? false;
}
