import type { GatewayRuntime } from "@graphql-hive/gateway-runtime";
import type {
  FederatedGraphOptions,
  FederatedSocketContext,
  FederatedWebSocketOperations,
  FederationContext,
  LoadedFederatedGraph,
} from "./federation-types.js";

/**
 * The federated graph, its runtime loaded on first use: the first composition, request,
 * socket or GraphiQL page. Hive's gateway runtime is a third of the gateway's modules,
 * and a gateway whose services declare no GraphQL API never needs it; loading it at
 * start cost every start that time.
 */
export type FederatedGraph = {
  runtime(): Promise<GatewayRuntime<FederationContext>>;
  webSocketOptions(onContext: FederatedSocketContext): Promise<FederatedWebSocketOperations>;
  handle: LoadedFederatedGraph["handle"];
  reload: LoadedFederatedGraph["reload"];
  dispose(): Promise<void>;
};

export function createFederatedGraph(options: FederatedGraphOptions): FederatedGraph {
  let loading: Promise<LoadedFederatedGraph> | null = null;
  const loaded = () => {
    loading ??= import("./federation-runtime.js").then(({ createFederationRuntime }) =>
      createFederationRuntime(options),
    );
    return loading;
  };
  return {
    runtime: async () => (await loaded()).runtime,
    webSocketOptions: async (onContext) => (await loaded()).webSocketOptions(onContext),
    handle: async (req, res, context) => (await loaded()).handle(req, res, context),
    reload: async (supergraphSdl) => (await loaded()).reload(supergraphSdl),
    async dispose() {
      // Never loaded: nothing to dispose of.
      if (loading) await (await loading).dispose();
    },
  };
}
