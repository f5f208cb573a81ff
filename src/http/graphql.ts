import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { NoSchemaIntrospectionCustomRule } from "graphql";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import type { Logger } from "pino";
import type { Caller } from "../domain/access.js";
import type { Metrics } from "../metrics.js";
import type { GatewayContext } from "../schema/context.js";
import { schema } from "../schema/index.js";
import type { Services } from "../services/index.js";
import { useEndOnStop } from "./end-on-stop.js";
import { starterQuery } from "./graphiql-starter.js";
import { useAuditTrail } from "./graphql-audit.js";
import { maskError, useGatewayErrors, yogaLogger } from "./graphql-errors.js";
import { useOperationMetrics } from "./graphql-metrics.js";
import { useOperationLimits } from "./operation-limits.js";
import { newRequestId } from "./request-id.js";

export const GRAPHQL_PATH = "/graphql";

/** What the HTTP server (or graphql-ws) hands yoga with each request, authenticated already. */
export type ServerContext = {
  requestId?: string;
  caller: Caller;
  traceparent?: string | null;
};

export type Gateway = YogaServerInstance<ServerContext, GatewayContext>;

export type GraphQLOptions = {
  services: Services;
  log: Logger;
  graphiql: boolean;
  /** Schema introspection (INTROSPECTION; off by default in production). */
  introspection: boolean;
  /** Aborted when the gateway begins to stop: open subscriptions complete. */
  stopping: AbortSignal;
  /** Where operations are counted. */
  metrics: Metrics;
};

export function createGraphQL({
  services,
  log,
  graphiql,
  introspection,
  stopping,
  metrics,
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
      ? {
          title: "Service Integration Gateway",
          subscriptionsProtocol: "WS",
          defaultQuery: starterQuery(services.access.mode),
        }
      : false,
    renderGraphiQL,
    maskedErrors: { maskError },
    logging: yogaLogger(log.child({ component: "graphql" })),
    // Over HTTP yoga builds a fetch Request; over graphql-ws the socket's values arrive
    // in the server context instead.
    context: ({ request, requestId, caller, traceparent }) => {
      const id = requestId ?? newRequestId(request?.headers.get("x-request-id"));
      return {
        services,
        caller,
        requestId: id,
        traceparent: traceparent ?? request?.headers.get("traceparent") ?? null,
        log,
      };
    },
    plugins: [
      // First, so that it also sees (and records) the mutations the limits refuse.
      useAuditTrail(),
      useOperationLimits(),
      ...(introspection ? [] : [useNoIntrospection()]),
      useGatewayErrors(),
      useOperationMetrics(metrics),
      useEndOnStop(stopping),
    ],
  });
}

/** graphql-js's own rule: __schema and __type are refused at validation, on every transport. */
function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
