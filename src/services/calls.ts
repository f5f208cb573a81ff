import { z } from "zod";
import { type CallFailure, failureOf, wasUnsent } from "../clients/call-failure.js";
import type { CallOutcome, ServiceClient } from "../clients/service-client.js";
import { HOP_BY_HOP_HEADERS } from "../clients/service-client.js";
import { type Caller, gatewayCaller, permits } from "../domain/access.js";
import type { CircuitState } from "../domain/breaker.js";
import { GatewayError, isGatewayError, notFound } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";
import type { ServiceRecord } from "../domain/service.js";
import { httpMethods, normalizeServiceType } from "../domain/service.js";
import { noTelemetry, type Telemetry } from "../domain/telemetry.js";
import type { StepRequest, StepResponse } from "../domain/workflow.js";
import { exceededJsonLimit, type JsonLimits } from "../lib/json-bounds.js";
import { childTraceparent } from "../lib/traceparent.js";
import { anyCaseEnum, parseInput } from "../lib/zod-input.js";
import type { Discovery } from "./discovery.js";
import { declaresEndpoint } from "./endpoint-match.js";
import { assertJsonWithin, MAX_JSON_DEPTH } from "./json-input.js";

/** What `callService` takes, as GraphQL hands it over. */
export type CallServiceInput = {
  serviceId?: string | null;
  serviceType?: string | null;
  strategy?: string | null;
  method?: string | null;
  path: string;
  query?: JsonValue | null;
  body?: JsonValue | null;
  headers?: JsonValue | null;
  idempotent?: boolean | null;
};

export type ServiceCallResult = {
  status: number;
  headers: Record<string, string | string[]>;
  /** Parsed JSON when the service said so; otherwise the text. Null when empty. */
  body: JsonValue;
  serviceId: string;
  /** Attempts over every instance tried: a failed connection is one, a breaker's refusal none. */
  attempts: number;
  /** The instances the call went to, in order, the one that answered last. */
  instancesTried: string[];
  breakerState: CircuitState;
  durationMs: number;
};

/** Where a call comes from, for tracing: forwarded to the service. */
export type CallTrace = { requestId: string; traceparent: string | null };

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/** Headers a caller may not set: the gateway sets them, or they belong to one hop. */
const RESERVED_HEADERS = new Set([
  ...HOP_BY_HOP_HEADERS,
  "host",
  "content-length",
  "x-request-id",
  "traceparent",
  // Asks the service to answer before the body; the gateway sends it whole.
  "expect",
]);

const BODY_LIMITS: JsonLimits = { maxDepth: MAX_JSON_DEPTH, maxBytes: 1024 * 1024 };
/** A service's answer may be as large as the client reads; only its depth is bounded. */
const ANSWER_LIMITS: JsonLimits = { maxDepth: MAX_JSON_DEPTH, maxBytes: Number.POSITIVE_INFINITY };

/** Instances of a type one call tries (see `mayFailOver`). */
const MAX_INSTANCES_TRIED = 3;

/** Answers that say this instance, not the request, failed: another may answer. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const inputSchema = z
  .object({
    serviceId: z.string().trim().min(1).max(200).nullish(),
    serviceType: z.string().trim().min(1).max(100).nullish(),
    strategy: z.string().nullish(),
    method: anyCaseEnum(httpMethods)
      .nullish()
      .transform((method) => method ?? "GET"),
    path: z
      .string()
      .max(2048)
      .startsWith("/", "must start with /")
      // RFC 3986 path characters only: no spaces, controls, ?, # or \ (query goes in `query`).
      .regex(/^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/, "has characters a URL path may not (use query)")
      .refine((path) => pathProblem(path) === null, {
        message:
          "must not contain empty, '.' or '..' segments (matrix parameters included), or encoded dots, slashes, % or NUL",
      }),
    query: z.record(z.string(), z.union([scalar, z.array(scalar)])).nullish(),
    body: z.custom<JsonValue>().nullish(),
    headers: z
      .record(
        z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "is not a valid header name"),
        // Visible Latin-1 and tabs: what HTTP allows in a value, so nothing is refused later.
        z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, "has characters a header value may not"),
      )
      .nullish(),
    idempotent: z.boolean().nullish(),
  })
  .superRefine((input, ctx) => {
    if ((input.serviceId == null) === (input.serviceType == null)) {
      ctx.addIssue({
        code: "custom",
        path: ["serviceId"],
        message: "give exactly one of serviceId and serviceType",
      });
    }
    if (input.body != null && (input.method === "GET" || input.method === "HEAD")) {
      ctx.addIssue({ code: "custom", path: ["body"], message: `is not sent with ${input.method}` });
    }
    for (const name of Object.keys(input.headers ?? {})) {
      if (RESERVED_HEADERS.has(name.toLowerCase())) {
        ctx.addIssue({
          code: "custom",
          path: ["headers", name],
          message: "is set by the gateway and may not be given",
        });
      }
    }
  });

/**
 * Why a path could reach something other than what it says, or null. Servers differ in
 * what they normalise (`..;` is `..` to Tomcat, `%2e` is `.` to many), so anything that
 * could be read as another segment is refused rather than guessed at.
 */
function pathProblem(path: string): string | null {
  const segments = path.split("/").slice(1);
  for (const [i, segment] of segments.entries()) {
    if (segment === "" && i < segments.length - 1) return "empty segment";
    const bare = segment.split(";")[0];
    if (bare === "." || bare === "..") return "dot segment";
  }
  for (const percent of path.matchAll(/%(.{0,2})/g)) {
    const hex = (percent[1] ?? "").toLowerCase();
    if (!/^[0-9a-f]{2}$/.test(hex)) return "malformed escape";
    if (["00", "25", "2e", "2f", "5c"].includes(hex)) return "encoded separator";
  }
  return null;
}

/**
 * Calls through the gateway: picks the instance (by id, or by type with a selection
 * strategy that skips open breakers), checks the caller may reach that endpoint, and
 * sends the request through the instance's policies, passing on x-request-id and a
 * child traceparent.
 */
export function createCalls({
  discovery,
  client,
  breakerStateOf,
  telemetry = noTelemetry,
}: {
  discovery: Pick<Discovery, "get" | "pick">;
  client: Pick<ServiceClient, "call">;
  /** The state of an instance's breaker after a call, as the result reports it. */
  breakerStateOf: (serviceId: string) => CircuitState;
  /** Counts each call by service type and outcome, with its time. None when omitted. */
  telemetry?: Pick<Telemetry, "call">;
}) {
  async function byId(serviceId: string): Promise<ServiceRecord> {
    const service = await discovery.get(serviceId);
    if (!service) throw notFound(`Service ${serviceId} is not registered.`);
    if (service.status === "OFFLINE" || service.status === "MAINTENANCE") {
      throw new GatewayError(
        "SERVICE_UNAVAILABLE",
        `Service ${service.id} is ${service.status} and takes no calls.`,
        { serviceId: service.id, status: service.status },
      );
    }
    return service;
  }

  /** One instance's answer; `idempotent` says whether the client retries it there. */
  async function send(
    input: ParsedInput,
    service: ServiceRecord,
    caller: Caller,
    trace: CallTrace,
    idempotent: boolean,
  ): Promise<ServiceCallResult> {
    if (
      !permits(caller, "callAnyPath") &&
      !declaresEndpoint(service.endpoints, input.method, input.path)
    ) {
      throw new GatewayError(
        "FORBIDDEN",
        `${input.method} ${input.path} is not an endpoint ${service.id} declared; only an admin token may call undeclared paths.`,
        { serviceId: service.id, method: input.method, path: input.path },
      );
    }
    const body = input.body == null ? null : JSON.stringify(input.body);
    const outcome = await client.call({
      serviceId: service.id,
      baseUrl: service.baseUrl,
      method: input.method,
      path: `${input.path}${queryString(input.query)}`,
      headers: {
        accept: "application/json",
        "user-agent": "service-integration-gateway",
        ...(body !== null ? { "content-type": "application/json" } : {}),
        ...input.headers,
        "x-request-id": trace.requestId,
        traceparent: childTraceparent(trace.traceparent),
      },
      body,
      idempotent,
    });
    return {
      status: outcome.status,
      headers: outcome.headers,
      body: decodeBody(outcome),
      serviceId: service.id,
      attempts: outcome.attempts,
      instancesTried: [service.id],
      breakerState: breakerStateOf(service.id),
      durationMs: outcome.durationMs,
    };
  }

  /**
   * By type, a call that failed where another instance may do better goes to the next
   * selectable one (`mayFailOver`), at most MAX_INSTANCES_TRIED of them. Same-instance
   * retries and failover share one budget, so that a call neither waits out a backoff on
   * an instance while another is there nor multiplies its retries by its instances: an
   * instance with another selectable behind it gets one attempt (the call's retry is the
   * next instance), and the last one the call can try gets the client's own retries only
   * when no instance before it was reached (connections refused, breakers open), as a
   * call by id to it would. So a refused connection moves on at once, a type with one
   * instance is called exactly as before, and a GET meeting 503s sends at most three
   * requests, as before.
   */
  async function callByType(
    input: ParsedInput,
    caller: Caller,
    trace: CallTrace,
  ): Promise<ServiceCallResult> {
    const type = input.serviceType as string;
    const idempotent = isIdempotent(input);
    const tried: string[] = [];
    let attempts = 0;
    // Whether an instance tried already may have had the call: it spent the retries.
    let reached = false;
    // What a call no instance answered raises: the last instance that may have had it
    // says more (a 503) than one refused after it.
    let blame: GatewayError | null = null;
    while (tried.length < MAX_INSTANCES_TRIED) {
      const picked = await discovery.pick(type, input.strategy, new Set(tried));
      if (!picked) break;
      const { service, others } = picked;
      tried.push(service.id);
      const last = others === 0 || tried.length === MAX_INSTANCES_TRIED;
      try {
        const result = await send(input, service, caller, trace, idempotent && last && !reached);
        return { ...result, attempts: attempts + result.attempts, instancesTried: tried };
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        attempts += Number(error.details.attempts ?? 0);
        const failure = failureOf(error);
        if (!mayFailOver(error, failure, idempotent)) throw afterInstances(error, tried, attempts);
        const unsent = wasUnsent(failure);
        if (!unsent || !reached) blame = error;
        if (!unsent) reached = true;
      }
    }
    if (blame) throw afterInstances(blame, tried, attempts);
    throw new GatewayError(
      "SERVICE_UNAVAILABLE",
      `No ${type} instance can take calls: none is ONLINE or DEGRADED with its circuit breaker closed.`,
      { serviceType: type },
    );
  }

  async function call(
    raw: CallServiceInput,
    caller: Caller,
    trace: CallTrace,
  ): Promise<ServiceCallResult> {
    // Bounded before anything reads it: JSON.stringify overflows the stack on deep values.
    if (raw.body != null) assertJsonWithin(raw.body, "input.body", BODY_LIMITS);
    const input = parseInput(inputSchema, raw, "input");
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    // Counted by type once the type is known: a call to an id nobody registered has none.
    let type = input.serviceType == null ? null : normalizeServiceType(input.serviceType);
    try {
      let result: ServiceCallResult;
      if (input.serviceType != null) {
        result = await callByType(input, caller, trace);
      } else {
        // By id, the caller chose the instance: it never fails over, and keeps its retries.
        const service = await byId(input.serviceId as string);
        type = service.type;
        result = await send(input, service, caller, trace, isIdempotent(input));
      }
      telemetry.call(type as string, `${Math.floor(result.status / 100)}xx`, seconds());
      return result;
    } catch (error) {
      if (type !== null)
        telemetry.call(type, isGatewayError(error) ? error.code : "ERROR", seconds());
      throw error;
    }
  }

  return {
    call,

    /**
     * A call the gateway makes for itself (a workflow step): by type, round-robin, to any
     * path, as an admin would.
     */
    async callAsGateway(request: StepRequest, trace: CallTrace): Promise<StepResponse> {
      const result = await call(
        {
          serviceType: request.serviceType,
          strategy: "ROUND_ROBIN",
          method: request.method,
          path: request.path,
          body: request.body,
          query: request.query,
        },
        gatewayCaller,
        trace,
      );
      return {
        status: result.status,
        body: result.body,
        serviceId: result.serviceId,
        attempts: result.attempts,
        instancesTried: result.instancesTried,
        durationMs: result.durationMs,
      };
    },
  };
}

type ParsedInput = z.output<typeof inputSchema>;

function isIdempotent(input: ParsedInput): boolean {
  return input.idempotent ?? IDEMPOTENT_METHODS.has(input.method);
}

/**
 * Whether another instance may have a call this one failed. Anything that sent nothing
 * (a breaker or bulkhead refusal, an address the policy refuses, a connection never
 * made) moves on whatever the method. What may have reached the service (a 502, 503 or
 * 504, a connection dropped after sending, no answer in time) moves on only when
 * sending it twice does no harm. Another 5xx (a 500 is the service's own fault, and
 * another instance of it would fail alike), and the caller's own mistakes, never do; a
 * 4xx is an answer and never gets here.
 */
function mayFailOver(error: GatewayError, failure: CallFailure, idempotent: boolean): boolean {
  if (wasUnsent(failure)) return true;
  if (!idempotent) return false;
  if (failure === "status") return GATEWAY_STATUSES.has(error.details.status as number);
  return failure === "dropped" || failure === "timeout";
}

/** An instance's error, with what the whole call did: its attempts and instances. */
function afterInstances(error: GatewayError, tried: string[], attempts: number): GatewayError {
  return new GatewayError(
    error.code,
    error.message,
    { ...error.details, attempts, instancesTried: [...tried] },
    error.cause === undefined ? undefined : { cause: error.cause },
  );
}

function queryString(query: Record<string, unknown> | null | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

function decodeBody(outcome: CallOutcome): JsonValue {
  if (outcome.body.length === 0) return null;
  const text = outcome.body.toString("utf8");
  const type = outcome.headers["content-type"];
  if (typeof type === "string" && /[/+]json\b/i.test(type)) {
    let parsed: JsonValue;
    try {
      parsed = JSON.parse(text) as JsonValue;
    } catch {
      return text;
    }
    // An answer nested deeper than any input may be could not be written out as JSON
    // again (JSON.stringify overflows), nor walked by workflow templates: it stays text.
    return exceededJsonLimit(parsed, ANSWER_LIMITS) === null ? parsed : text;
  }
  return text;
}
