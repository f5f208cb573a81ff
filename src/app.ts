import { createServer, type RequestListener, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { Database } from "./db/client.js";
import type { Events } from "./events.js";
import { createDashboardAssets } from "./http/dashboard-assets.js";
import { type ConnectionDrain, trackConnections } from "./http/drain.js";
import { createFederatedGraph, type FederatedGraph } from "./http/federation.js";
import { attachFederatedWebSocket } from "./http/federation-ws.js";
import { createGraphQL } from "./http/graphql.js";
import { attachGraphQLWebSocket } from "./http/graphql-ws.js";
import { listen } from "./http/listen.js";
import { createRestRoutes } from "./http/rest.js";
import { createRequestListener } from "./http/server.js";
import { createUpgradeRouter } from "./http/websockets.js";
import { type Clock, systemClock } from "./lib/clock.js";
import { countedEvents, createMetrics, telemetryOf } from "./metrics.js";
import { createServices, type Services } from "./services/index.js";
import { createMemoryLeaseStore, type LeaseStore } from "./stores/lease.js";
import type { RateLimitStore } from "./stores/rate-limit.js";
import type { RegistryStore } from "./stores/registry.js";

export type AppDeps = {
  config: Pick<
    Config,
    | "serviceName"
    | "port"
    | "host"
    | "shutdownTimeoutSeconds"
    | "maxRequestBodyBytes"
    | "graphiql"
    | "maxPageSize"
    | "auditRetentionDays"
    | "access"
    | "heartbeatSweepIntervalSeconds"
    | "probes"
    | "breakers"
    | "calls"
    | "workflows"
    | "allowedServiceHosts"
    | "rateLimits"
    | "webSockets"
    | "federation"
  >;
  store: RegistryStore;
  /** Migrated already: the composition root migrates before it builds the app. */
  database: Database;
  events: Events;
  log: Logger;
  /** The time of day for everything the gateway reads it for. Default the system's. */
  clock?: Clock;
  /** How often the live store is checked for lost state. Default 5,000 ms. */
  restoreCheckIntervalMs?: number;
  /** Leader leases shared by replicas; in memory when omitted (one gateway). */
  leases?: LeaseStore;
  /** Rate-limit counters shared by replicas; in memory when omitted (one gateway). */
  rateLimitStore?: RateLimitStore;
  /** How often breaker transitions missed over pub/sub are read back. Default 10,000 ms. */
  breakerResyncIntervalMs?: number;
  /** How often API tokens changed on other replicas are read. Default 500 ms. */
  tokenRefreshIntervalMs?: number;
  /** The built dashboard's folder; dist/dashboard when omitted (tests build their own). */
  dashboardDir?: string;
  /** How often the workflow runner looks for work; tests shorten it. */
  workflowRunner?: { claimIntervalMs?: number };
  /**
   * A server already listening on config.port, its connections tracked from the first:
   * the composition root binds the port before it opens the database, and answers
   * health checks on it while it waits. `handOver` gives the gateway its requests once
   * started. Created here when omitted.
   */
  listening?: {
    server: Server;
    connections: ConnectionDrain;
    handOver: (listener: RequestListener) => void;
  };
  /**
   * How long keep-alive connections idle at stop stay open for a last request (see
   * `DrainOptions.idleGraceMs`). Default the server's keep-alive timeout, 5,000 ms.
   */
  idleConnectionGraceMs?: number;
};

export type App = {
  services: Services;
  /**
   * Restores an empty live store from the database, then listens on config.port
   * (0: any free port) and resolves with the base URL.
   */
  start(): Promise<{ url: string; port: number }>;
  /**
   * Stops accepting, closes WebSockets (1001) and ends subscriptions, drains HTTP
   * connections (bounded by config.shutdownTimeoutSeconds), and writes what is pending
   * to the database; closing the backends is the caller's.
   */
  stop(): Promise<void>;
};

/** The whole gateway on one port, without owning its backends (main.ts does). */
export function createApp(deps: AppDeps): App {
  const { config, store, database, log } = deps;
  const clock = deps.clock ?? systemClock;
  // Before the services, so composition results are counted from the first.
  const metrics = createMetrics(config.serviceName, {
    circuitBreakers: () => services.breakers.list(),
    services: () => store.find({}),
    webSockets: () => [
      { endpoint: "graphql", ...webSockets.stats() },
      { endpoint: "federation", ...federatedWebSockets.stats() },
    ],
  });
  const events = countedEvents(deps.events, metrics);
  // Built after the services it plans over; compositions before then have nothing to swap.
  let federated: FederatedGraph | null = null;
  const services = createServices({
    store,
    database,
    events,
    log,
    clock,
    telemetry: telemetryOf(metrics),
    maxPageSize: config.maxPageSize,
    allowedServiceHosts: config.allowedServiceHosts,
    restoreCheckIntervalMs: deps.restoreCheckIntervalMs,
    leases: deps.leases ?? createMemoryLeaseStore({ clock }),
    sweepIntervalMs: config.heartbeatSweepIntervalSeconds * 1000,
    probes: config.probes,
    breakers: config.breakers,
    calls: config.calls,
    breakerResyncIntervalMs: deps.breakerResyncIntervalMs,
    workflows: { ...config.workflows, ...deps.workflowRunner },
    tokens: config.access.tokens,
    tokenRefreshIntervalMs: deps.tokenRefreshIntervalMs,
    rateLimits: config.rateLimits,
    rateLimitStore: deps.rateLimitStore,
    auditRetentionDays: config.auditRetentionDays,
    federation: {
      dropAfterMs: config.federation.dropAfterMs,
      onComposed: async (supergraphSdl) => {
        await federated?.reload(supergraphSdl);
      },
      onResult: (result) => metrics.compositions.inc({ result }),
    },
  });
  const stopping = new AbortController();
  const graphql = createGraphQL({
    services,
    log,
    graphiql: config.graphiql,
    introspection: config.access.introspection,
    stopping: stopping.signal,
    metrics,
  });
  federated = createFederatedGraph({
    supergraph: services.supergraph,
    subgraphs: services.subgraphs,
    path: config.federation.path,
    graphiql: config.graphiql,
    introspection: config.access.introspection,
    metrics,
    log,
    stopping: stopping.signal,
    drainTimeoutMs: config.shutdownTimeoutSeconds * 1000,
  });
  const server = deps.listening?.server ?? createServer();
  const handleRequest = createRequestListener({
    graphql,
    federation: {
      graph: federated,
      path: config.federation.path,
      forwardHeaders: config.federation.forwardHeaders,
    },
    rest: createRestRoutes({
      services,
      maxPageSize: config.maxPageSize,
      serviceName: config.serviceName,
    }),
    services,
    metrics,
    log,
    serviceName: config.serviceName,
    version: PACKAGE_VERSION,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    graphiql: config.graphiql,
    dashboard: createDashboardAssets(deps.dashboardDir),
  });
  const connections = deps.listening?.connections ?? trackConnections(server);
  const upgrades = createUpgradeRouter(server);
  const webSocketLimits = {
    maxPayloadBytes: config.maxRequestBodyBytes,
    connectionInitTimeoutMs: config.webSockets.connectionInitTimeoutMs,
    maxSubscriptionsPerConnection: config.webSockets.maxSubscriptionsPerConnection,
    rateLimiter: services.rateLimiter,
    onRateLimited: () => metrics.rateLimited.inc({ surface: "graphql-ws" }),
  };
  const webSockets = attachGraphQLWebSocket(
    upgrades,
    graphql,
    services.access,
    log,
    webSocketLimits,
  );
  const federatedWebSockets = attachFederatedWebSocket(upgrades, federated, services.access, log, {
    ...webSocketLimits,
    path: config.federation.path,
    forwardHeaders: config.federation.forwardHeaders,
  });

  return {
    services,
    async start() {
      await services.start();
      if (deps.listening) {
        // Whatever answered on the port while the gateway started hands over to it now.
        deps.listening.handOver(handleRequest);
      } else {
        server.on("request", handleRequest);
        await listen(server, config.port, config.host);
      }
      const { port } = server.address() as AddressInfo;
      const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
      return { url: `http://${host}:${port}`, port };
    },
    async stop() {
      services.readiness.leave();
      // Workflow executions are handed over at once, while the connections drain: their
      // steps in flight finish and are recorded, and another replica resumes them from
      // the next step instead of waiting for this one to let go.
      const workflowsHandedOver = services.workflows.stop();
      // Awaited after the drain; a failure meanwhile must not count as unhandled.
      workflowsHandedOver.catch(() => {});
      const drained = connections.drain({
        timeoutMs: config.shutdownTimeoutSeconds * 1000,
        idleGraceMs: deps.idleConnectionGraceMs,
      });
      const webSocketsClosed = Promise.all([webSockets.close(), federatedWebSockets.close()]);
      // After the WebSockets' close frames, so their subscriptions end with the socket
      // and only SSE streams see this.
      stopping.abort();
      await webSocketsClosed;
      const drain = await drained;
      if (drain.destroyed > 0) log.warn(drain, "connections cut at the shutdown timeout");
      else log.info(drain, "connections drained");
      upgrades.close();
      await federated?.dispose();
      await workflowsHandedOver;
      await services.stop();
    },
  };
}

/** The version in package.json: one level up from src/ and from dist/ alike. */
const PACKAGE_VERSION = (createRequire(import.meta.url)("../package.json") as { version: string })
  .version;
