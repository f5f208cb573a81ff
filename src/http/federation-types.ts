import type { IncomingMessage, ServerResponse } from "node:http";
import type { GatewayRuntime, getGraphQLWSOptions } from "@graphql-hive/gateway-runtime";
import type { Extra } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import type { Caller } from "../domain/access.js";
import type { Metrics } from "../metrics.js";
import type { SubgraphFetch, SubgraphFetchRecord } from "../services/subgraph-fetch.js";
import type { Supergraph } from "../services/supergraph.js";

/** What the HTTP server (or graphql-ws) hands the federated graph with each request. */
export type FederationContext = {
  requestId: string;
  caller: Caller;
  traceparent: string | null;
  /** The caller's headers on FEDERATION_FORWARD_HEADERS, passed to every subgraph. */
  forwarded: Record<string, string>;
  /** Where each subgraph fetch is recorded when the caller asked for `explain`. */
  explain: SubgraphFetchRecord[] | null;
};

export type FederatedGraphOptions = {
  supergraph: Pick<Supergraph, "current">;
  subgraphs: SubgraphFetch;
  /** FEDERATION_PATH. */
  path: string;
  graphiql: boolean;
  introspection: boolean;
  metrics: Metrics;
  log: Logger;
  /** Aborted when the gateway begins to stop: open subscriptions complete. */
  stopping: AbortSignal;
  /** How long an operation in flight keeps the graph it started on after a reload. */
  drainTimeoutMs?: number;
};

/** graphql-ws's options that run an operation in the runtime (Hive's getGraphQLWSOptions). */
export type FederatedWebSocketOperations = Required<
  Pick<
    ReturnType<typeof getGraphQLWSOptions<FederationContext, Extra>>,
    "execute" | "subscribe" | "onSubscribe"
  >
>;

/** How a socket's operations get their context: the caller, ids, forwarded headers. */
export type FederatedSocketContext = Parameters<
  typeof getGraphQLWSOptions<FederationContext, Extra>
>[1];

/** The federated graph once Hive's runtime is loaded and built (federation-runtime.ts). */
export type LoadedFederatedGraph = {
  readonly runtime: GatewayRuntime<FederationContext>;
  webSocketOptions(onContext: FederatedSocketContext): FederatedWebSocketOperations;
  handle(req: IncomingMessage, res: ServerResponse, context: FederationContext): Promise<void>;
  /** Swaps to this supergraph; resolves when the next request plans over it. */
  reload(supergraphSdl: string): Promise<void>;
  dispose(): Promise<void>;
};
