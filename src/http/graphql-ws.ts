import type { Server } from "node:http";
import type { ExecutionArgs } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { prepareOperation } from "./envelop-operation.js";
import { type Gateway, GRAPHQL_PATH } from "./graphql.js";
import { operationCostErrors } from "./operation-limits.js";
import { newRequestId } from "./request-id.js";
import { createSubscriptionSharing } from "./shared-subscriptions.js";

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
};

/**
 * graphql-ws on the GraphQL path of the same server. Each operation goes through
 * yoga's envelop, so WebSocket clients get the same context, plugins and error masking
 * as HTTP; identical subscriptions share one execution. A bearer token may come in
 * connectionParams or the upgrade request's headers.
 */
export function attachGraphQLWebSocket(server: Server, graphql: Gateway, log: Logger) {
  const wss = new WebSocketServer({ server, path: GRAPHQL_PATH });
  const sharing = createSubscriptionSharing((error) =>
    log.error({ err: error }, "shared subscription stream failed"),
  );
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) =>
        sharing.subscribe(args.document, args.operationName, args.variableValues, () =>
          (args.rootValue as EnvelopedRoot).subscribe(args),
        ) as never,
      onSubscribe: async (ctx, _id, payload) => {
        const fromParams = ctx.connectionParams?.authorization;
        const prepared = await prepareOperation(
          graphql,
          {
            requestId: newRequestId(
              ctx.extra.request.headers["x-request-id"] as string | undefined,
            ),
            authorization:
              typeof fromParams === "string" ? fromParams : ctx.extra.request.headers.authorization,
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
  return {
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
