import { GraphQLError } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { type Caller, permits } from "../domain/access.js";
import type { Access } from "../services/access.js";
import type { FederatedGraph } from "./federation.js";
import { FEDERATION_FORBIDDEN, forwardedHeaders } from "./federation-request.js";
import type { FederatedWebSocketOperations } from "./federation-types.js";
import { type AdmissionLimits, admissionErrors, closable, refuseRevoked } from "./graphql-ws.js";
import { newRequestId } from "./request-id.js";
import { createSocketCallers } from "./socket-callers.js";
import { createSocketStats } from "./socket-stats.js";
import type { UpgradeRouter } from "./websockets.js";

export type FederatedWebSocketOptions = AdmissionLimits & {
  path: string;
  maxPayloadBytes: number;
  connectionInitTimeoutMs: number;
  /** FEDERATION_FORWARD_HEADERS: read from the upgrade request. */
  forwardHeaders: readonly string[];
};

/**
 * graphql-ws on the federated graph's path: the same token rules, operation limit per
 * socket and rate limit as on /graphql; each operation runs in the gateway runtime, its
 * subgraph fetches (SSE for subscriptions) routed as over HTTP.
 */
export function attachFederatedWebSocket(
  upgrades: UpgradeRouter,
  graph: FederatedGraph,
  access: Access,
  log: Logger,
  options: FederatedWebSocketOptions,
) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  upgrades.route(options.path, wss);
  const callers = createSocketCallers(access);
  const stats = createSocketStats();
  // The runtime's operations, loaded with the runtime by the first socket that runs one.
  let operations: Promise<FederatedWebSocketOperations> | null = null;
  const runtime = () => {
    operations ??= graph.webSocketOptions((ctx) => {
      const request = ctx.extra.request;
      return {
        requestId: newRequestId(request.headers["x-request-id"] as string | undefined),
        caller: callers.callerOf(ctx.extra.socket) as Caller,
        traceparent: (request.headers.traceparent as string | undefined) ?? null,
        forwarded: forwardedHeaders(request.headers, options.forwardHeaders),
        explain: null,
      };
    });
    return operations;
  };
  const disposable = useServer(
    {
      execute: async (args) => (await runtime()).execute(args),
      subscribe: async (args) => (await runtime()).subscribe(args),
      connectionInitWaitTimeout: options.connectionInitTimeoutMs,
      onConnect: (ctx) => {
        const accepted = callers.connect(ctx.extra.socket, ctx.extra.request, ctx.connectionParams);
        if (accepted) stats.opened(ctx);
        return accepted;
      },
      onClose: (ctx) => {
        stats.closed(ctx);
        callers.disconnect(ctx.extra.socket);
      },
      onSubscribe: async (ctx, id, payload) => {
        const caller = callers.callerOf(ctx.extra.socket);
        if (!caller) return refuseRevoked(ctx.extra.socket);
        if (!permits(caller, "callServices")) return [forbidden()];
        const refused = await admissionErrors(
          caller,
          Object.keys(ctx.subscriptions).length,
          options,
        );
        if (refused) return refused;
        return (await runtime()).onSubscribe(ctx, id, payload);
      },
    },
    wss,
  );
  return closable(wss, log, disposable, callers, stats);
}

function forbidden(): GraphQLError {
  return new GraphQLError(FEDERATION_FORBIDDEN, { extensions: { code: "FORBIDDEN" } });
}
