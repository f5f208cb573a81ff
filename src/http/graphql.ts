import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import type { Logger } from "pino";
import type { GatewayContext } from "../schema/context.js";
import { schema } from "../schema/index.js";
import { callerFromAuthorization } from "../services/caller.js";
import type { Services } from "../services/index.js";
import { useEndOnStop } from "./end-on-stop.js";
import { maskError, useGatewayErrors, yogaLogger } from "./graphql-errors.js";
import { useOperationLimits } from "./operation-limits.js";
import { newRequestId } from "./request-id.js";

export const GRAPHQL_PATH = "/graphql";

/** What the HTTP server (or graphql-ws) hands yoga with each request. */
export type ServerContext = {
  requestId?: string;
  authorization?: string | null;
  traceparent?: string | null;
};

export type Gateway = YogaServerInstance<ServerContext, GatewayContext>;

export type GraphQLOptions = {
  services: Services;
  log: Logger;
  adminToken: string | null;
  graphiql: boolean;
  /** Aborted when the gateway begins to stop: open subscriptions complete. */
  stopping: AbortSignal;
};

export function createGraphQL({
  services,
  log,
  adminToken,
  graphiql,
  stopping,
}: GraphQLOptions): Gateway {
  return createYoga<ServerContext, GatewayContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    // The HTTP server enforces the body limit before yoga; yoga's own limit (5.24) re-wraps
    // every body in a stream and halves small-request throughput (docs/adr/0002).
    maxRequestBodySize: false,
    landingPage: false,
    healthCheckEndpoint: "/graphql/health",
    graphiql: graphiql
      ? { title: "Service Integration Gateway", subscriptionsProtocol: "WS" }
      : false,
    renderGraphiQL,
    maskedErrors: { maskError },
    logging: yogaLogger(log.child({ component: "graphql" })),
    // Over HTTP yoga builds a fetch Request; over graphql-ws the socket's values arrive
    // in the server context instead.
    context: ({ request, requestId, authorization, traceparent }) => {
      const id = requestId ?? newRequestId(request?.headers.get("x-request-id"));
      return {
        services,
        caller: callerFromAuthorization(
          authorization ?? request?.headers.get("authorization"),
          adminToken,
        ),
        requestId: id,
        traceparent: traceparent ?? request?.headers.get("traceparent") ?? null,
        log,
      };
    },
    plugins: [useOperationLimits(), useGatewayErrors(), useEndOnStop(stopping)],
  });
}
