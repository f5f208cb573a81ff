import {
  createGatewayRuntime,
  type GatewayPlugin,
  type GatewayRuntime,
  getGraphQLWSOptions,
} from "@graphql-hive/gateway-runtime";
import { Logger as HiveLogger } from "@graphql-hive/logger";
import { PinoLogWriter } from "@graphql-hive/logger/writers/pino";
import httpTransport from "@graphql-mesh/transport-http";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import {
  type DocumentNode,
  GraphQLError,
  getOperationAST,
  NoSchemaIntrospectionCustomRule,
} from "graphql";
import { subgraphTargetOf } from "../domain/federation.js";
import type { SubgraphFetchRecord, SubgraphOperation } from "../services/subgraph-fetch.js";
import { useEndOnStop } from "./end-on-stop.js";
import type {
  FederatedGraphOptions,
  FederationContext,
  LoadedFederatedGraph,
} from "./federation-types.js";
import { useOperationLimits } from "./operation-limits.js";
import { newRequestId } from "./request-id.js";

/**
 * The federated graph: Hive's gateway runtime, planning over the supergraph the registry
 * composed, every subgraph fetch sent by `subgraphs` to an instance discovery picks.
 * Reloads drain (`gracefulSchemaReload`): an operation in flight finishes on the graph
 * it started on, so a mutation that reached a subgraph is never answered 503.
 */
export function createFederationRuntime(options: FederatedGraphOptions): LoadedFederatedGraph {
  const { metrics, subgraphs, log } = options;
  const routing: GatewayPlugin<FederationContext> = {
    onFetch({ url, context, executionRequest, setFetchFn }) {
      const planned = subgraphTargetOf(url);
      // Not a subgraph call: the runtime fetching something of its own, left alone.
      if (!planned) return;
      const { type } = planned;
      const operation = operationOf(executionRequest?.document, executionRequest?.operationName);
      // Outside a request (the runtime's own work) the context has none of ours.
      const request = context as Partial<FederationContext>;
      setFetchFn(async (fetchUrl, init) => {
        const { response, record } = await subgraphs.fetch({
          type,
          operation,
          method: init?.method ?? "POST",
          search: subgraphTargetOf(fetchUrl)?.search ?? planned.search,
          headers: init?.headers ?? {},
          body: bodyText(init?.body),
          signal: init?.signal ?? null,
          requestId: request.requestId ?? newRequestId(undefined),
          traceparent: request.traceparent ?? null,
          forwarded: request.forwarded ?? {},
        });
        metrics.subgraphFetches.inc({ type, outcome: record.outcome });
        metrics.subgraphFetchDuration.observe({ type }, record.durationMs / 1000);
        request.explain?.push(record);
        return response;
      });
    },
    onExecute({ args }) {
      const explain = (args.contextValue as Partial<FederationContext>).explain;
      return {
        onExecuteDone({ result, setResult }) {
          // A subscription's stream carries no per-operation explain.
          if (Symbol.asyncIterator in result) return;
          const errors =
            result.errors && result.errors.length > 1 ? distinct(result.errors) : result.errors;
          if (!explain && errors === result.errors) return;
          setResult({
            ...result,
            ...(errors ? { errors } : {}),
            ...(explain
              ? { extensions: { ...result.extensions, explain: { fetches: explain.map(rounded) } } }
              : {}),
          });
        },
      };
    },
  };

  // The supergraph the runtime plans over: set before each reload, so the runtime reads
  // the new one when it reloads. Never asked for before one is composed: the server
  // answers 503 until then.
  let serving = options.supergraph.current();
  const runtime = createGatewayRuntime<FederationContext>({
    supergraph: () => {
      if (serving === null) throw new Error("no supergraph is composed yet");
      return serving;
    },
    graphqlEndpoint: options.path,
    transports: { http: httpTransport },
    plugins: () => [
      routing,
      useOperationLimits(),
      ...(options.introspection ? [] : [noIntrospection]),
      useEndOnStop(options.stopping),
    ],
    gracefulSchemaReload: { drainTimeout: options.drainTimeoutMs ?? 30_000 },
    maskedErrors: { maskError: maskFederatedError },
    // The gateway's own x-request-id is passed on by the routing above.
    requestId: false,
    landingPage: false,
    graphiql: options.graphiql
      ? { title: "Service Integration Gateway: federated graph", subscriptionsProtocol: "WS" }
      : false,
    renderGraphiQL,
    logging: new HiveLogger({
      level: "warn",
      writers: [new PinoLogWriter(log.child({ component: "federation" }))],
    }),
  });
  stopDisposingOnSignals(runtime);

  return {
    runtime,
    webSocketOptions(onContext) {
      const { execute, subscribe, onSubscribe } = getGraphQLWSOptions(runtime, onContext);
      if (!execute || !subscribe || !onSubscribe) {
        throw new Error("the gateway runtime gave no graphql-ws operations");
      }
      return { execute, subscribe, onSubscribe };
    },
    async handle(req, res, context) {
      // As a request listener: handleNodeRequestAndResponse alone never writes the answer.
      await runtime(req, res, context);
    },
    async reload(supergraphSdl) {
      serving = supergraphSdl;
      // Typed void, but a promise: the swap is done once it resolves.
      await (runtime.invalidateUnifiedGraph() as unknown as Promise<void> | undefined);
    },
    async dispose() {
      await runtime.dispose();
    },
  };
}

/**
 * The runtime forces yoga's `disposeOnProcessTerminate`, which disposes it on SIGTERM
 * and SIGINT by itself, aborting federated requests in flight while `app.stop()` is
 * still draining them. The gateway disposes it in order from `app.stop()` instead.
 * whatwg-node registers its handlers once per process, named `terminateHandler`.
 */
function stopDisposingOnSignals(runtime: GatewayRuntime<FederationContext>): void {
  // Creating the stack is what registers the handlers, if nothing did yet.
  void runtime.disposableStack;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    for (const listener of process.listeners(signal)) {
      if (listener.name === "terminateHandler") process.removeListener(signal, listener);
    }
  }
}

const noIntrospection: GatewayPlugin<FederationContext> = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

function operationOf(
  document: DocumentNode | undefined,
  name: string | undefined,
): SubgraphOperation {
  const operation = document ? getOperationAST(document, name) : null;
  return operation?.operation ?? "query";
}

function bodyText(body: unknown): string | null {
  if (body == null) return null;
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString("utf8");
  return String(body);
}

/**
 * One error for each failure: an entity fetch that failed answers the same error for
 * every entity it was asked for (the runtime reports them at one path), and a client
 * needs to read it once.
 */
function distinct(errors: readonly GraphQLError[]): readonly GraphQLError[] {
  const seen = new Set<string>();
  const kept = errors.filter((error) => {
    const key = JSON.stringify([
      error.message,
      error.path,
      error.extensions.code,
      error.extensions.serviceType,
    ]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return kept.length === errors.length ? errors : kept;
}

function rounded(record: SubgraphFetchRecord) {
  return { ...record, durationMs: Math.round(record.durationMs * 100) / 100 };
}

/** What a subgraph error may tell the client: its code and whose it is, never the request. */
const KEPT_EXTENSIONS = new Set([
  "code",
  "serviceName",
  "serviceType",
  "serviceId",
  "breakerState",
  // Which limit an operation ran into (operation-limits.ts), as on /graphql.
  "limit",
  "max",
  "field",
  // yoga answers with the status this names (405 for a mutation over GET), then drops it.
  "http",
]);

/**
 * Errors a subgraph answered (or routing answered for it) keep their message and the
 * extensions that say what failed; the runtime's own additions (the subgraph request
 * and response) are dropped, in place: an error returned as it came is an expected one,
 * and yoga logs only the errors masking replaced. Anything else is a bug and is masked,
 * as on /graphql.
 */
function maskFederatedError(error: unknown, message: string): Error {
  if (!(error instanceof GraphQLError)) {
    return new GraphQLError(message, { extensions: { code: "INTERNAL_SERVER_ERROR" } });
  }
  const original = error.originalError;
  // A GraphQLError wrapping a thrown non-GraphQL error is an unexpected failure.
  if (original && !(original instanceof GraphQLError) && error.extensions.code === undefined) {
    return new GraphQLError(message, {
      nodes: error.nodes,
      path: error.path,
      extensions: { code: "INTERNAL_SERVER_ERROR" },
    });
  }
  const extensions = error.extensions as Record<string, unknown>;
  for (const name of Object.keys(extensions)) {
    if (!KEPT_EXTENSIONS.has(name)) delete extensions[name];
  }
  return error;
}
