import { type ExecutionArgs, GraphQLError } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import type { Caller } from "../domain/access.js";
import type { Access } from "../services/access.js";
import type { RateLimiter } from "../services/rate-limit.js";
import { prepareOperation } from "./envelop-operation.js";
import { type Gateway, GRAPHQL_PATH } from "./graphql.js";
import { logLevelOf } from "./graphql-errors.js";
import { operationCostErrors } from "./operation-limits.js";
import { newRequestId } from "./request-id.js";
import { createSubscriptionSharing } from "./shared-subscriptions.js";
import { createSocketCallers } from "./socket-callers.js";
import { createSocketStats, type SocketStats } from "./socket-stats.js";
import type { UpgradeRouter } from "./websockets.js";

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
};

export type GraphQLWebSocketOptions = {
  /**
   * Largest message accepted, in bytes (MAX_REQUEST_BODY_BYTES, as over HTTP). ws refuses
   * a larger one from its frame header, before buffering it, and closes the socket with
   * 1009. Default 1 MiB; ws's own default would be 100 MiB.
   */
  maxPayloadBytes?: number;
  /**
   * How long a socket may stay open without connection_init (WS_CONNECTION_INIT_TIMEOUT_MS);
   * then graphql-ws closes it with 4408. Default 10 s, as graphql-ws's own default.
   */
  connectionInitTimeoutMs?: number;
  /**
   * Operations one socket may have open at once (WS_MAX_SUBSCRIPTIONS_PER_CONNECTION):
   * one more is refused with an error message, and the socket stays open. Default 100.
   */
  maxSubscriptionsPerConnection?: number;
  /** Counts each subscribe message against the caller's rate limit; none when omitted. */
  rateLimiter?: RateLimiter;
  /** Told of each subscribe the rate limit refused, for the metric. */
  onRateLimited?: () => void;
};

/**
 * graphql-ws on the GraphQL path of the same server. Each operation goes through
 * yoga's envelop, so WebSocket clients get the same context, plugins and error masking
 * as HTTP; identical subscriptions share one execution. A bearer token may come in
 * connectionParams or the upgrade request's headers.
 */
export function attachGraphQLWebSocket(
  upgrades: UpgradeRouter,
  graphql: Gateway,
  access: Access,
  log: Logger,
  {
    maxPayloadBytes = 1024 * 1024,
    connectionInitTimeoutMs = 10_000,
    maxSubscriptionsPerConnection = 100,
    rateLimiter,
    onRateLimited,
  }: GraphQLWebSocketOptions = {},
) {
  const limits = { maxSubscriptionsPerConnection, rateLimiter, onRateLimited };
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes });
  upgrades.route(GRAPHQL_PATH, wss);
  const sharing = createSubscriptionSharing((error) =>
    log[logLevelOf(error)]({ err: error }, "shared subscription stream failed"),
  );
  const callers = createSocketCallers(access);
  const stats = createSocketStats();
  const disposable = useServer(
    {
      connectionInitWaitTimeout: connectionInitTimeoutMs,
      // A missing or bad token closes the socket with 4403 before any operation runs.
      onConnect: (ctx) => {
        const accepted = callers.connect(ctx.extra.socket, ctx.extra.request, ctx.connectionParams);
        if (accepted) stats.opened(ctx);
        return accepted;
      },
      onClose: (ctx) => {
        stats.closed(ctx);
        callers.disconnect(ctx.extra.socket);
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) =>
        sharing.subscribe(args.document, args.operationName, args.variableValues, () =>
          (args.rootValue as EnvelopedRoot).subscribe(args),
        ) as never,
      onSubscribe: async (ctx, _id, payload) => {
        const caller = callers.callerOf(ctx.extra.socket);
        // onConnect sets it for every socket it lets in; a revoked token's socket is closing.
        if (!caller) return refuseRevoked(ctx.extra.socket);
        const refused = await admissionErrors(
          caller,
          Object.keys(ctx.subscriptions).length,
          limits,
        );
        if (refused) return refused;
        const prepared = await prepareOperation(
          graphql,
          {
            requestId: newRequestId(
              ctx.extra.request.headers["x-request-id"] as string | undefined,
            ),
            caller,
            traceparent: (ctx.extra.request.headers.traceparent as string | undefined) ?? null,
          },
          payload,
        );
        if ("errors" in prepared) return [...prepared.errors];
        // Refused here, as an error message, rather than failing every event later.
        const tooCostly = operationCostErrors(prepared.args);
        if (tooCostly.length > 0) return tooCostly;
        return {
          ...prepared.args,
          rootValue: { execute: prepared.execute, subscribe: prepared.subscribe },
        };
      },
    },
    wss,
  );
  return closable(wss, log, disposable, callers, stats);
}

/**
 * A graphql-ws endpoint's server, its socket errors logged by whose fault they are, and
 * its `close`: no more token watching, graphql-ws's sockets closed (1001), then the server.
 */
export function closable(
  wss: WebSocketServer,
  log: Logger,
  graphqlWs: { dispose(): void | Promise<void> },
  callers: { stop(): void },
  stats: SocketStats,
) {
  logSocketErrors(wss, log);
  return {
    /** Open connections and their streaming operations, for the metrics. */
    stats: () => ({ connections: stats.connections(), subscriptions: stats.subscriptions() }),
    async close() {
      callers.stop();
      await graphqlWs.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** What graphql-ws answers a subscribe from a socket whose token is no longer valid. */
export function refuseRevoked(socket: WebSocket): GraphQLError[] {
  socket.close(4403, "Forbidden");
  return [
    new GraphQLError("The bearer token was revoked or has expired.", {
      extensions: { code: "UNAUTHENTICATED" },
    }),
  ];
}

export type AdmissionLimits = {
  maxSubscriptionsPerConnection: number;
  rateLimiter?: RateLimiter;
  onRateLimited?: () => void;
};

/**
 * Why a subscribe may not start: the socket has as many operations open as it may
 * (graphql-ws has entered this one already, so it counts itself), or the caller's rate
 * limit refuses it. Null: it may.
 */
export async function admissionErrors(
  caller: Caller,
  openOperations: number,
  { maxSubscriptionsPerConnection, rateLimiter, onRateLimited }: AdmissionLimits,
): Promise<GraphQLError[] | null> {
  if (openOperations > maxSubscriptionsPerConnection) {
    return [
      new GraphQLError(
        `This connection has ${maxSubscriptionsPerConnection} operations open already, the most it may: complete one first.`,
        {
          extensions: {
            code: "BAD_REQUEST",
            limit: "subscriptions",
            max: maxSubscriptionsPerConnection,
          },
        },
      ),
    ];
  }
  const limited = rateLimiter?.enabled ? await rateLimiter.check(caller) : null;
  if (limited) {
    onRateLimited?.();
    return [
      new GraphQLError(`Too many requests: try again in ${limited.retryAfterSeconds} s.`, {
        extensions: { code: "RATE_LIMITED", retryAfter: limited.retryAfterSeconds },
      }),
    ];
  }
  return null;
}

/**
 * After useServer's own "connection" listener, which has just added its socket error
 * handler: that one prints every error with console.error as the server's fault.
 */
function logSocketErrors(wss: WebSocketServer, log: Logger): void {
  wss.on("connection", (socket) => {
    socket.removeAllListeners("error");
    socket.on("error", (error: Error & { code?: string }) => {
      // ws raises WS_ERR_* for frames the client got wrong (too large, malformed) and has
      // closed the socket with the code that says so (1009, 1002) already.
      const clientsFault = error.code?.startsWith("WS_ERR_") ?? false;
      log[clientsFault ? "info" : "error"]({ err: error }, "WebSocket closed on an error");
    });
  });
}
