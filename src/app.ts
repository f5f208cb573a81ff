import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { Database } from "./db/client.js";
import type { Events } from "./events.js";
import { createGraphQL } from "./http/graphql.js";
import { attachGraphQLWebSocket } from "./http/graphql-ws.js";
import { createRestRoutes } from "./http/rest.js";
import { createHttpServer } from "./http/server.js";
import { createMetrics } from "./metrics.js";
import { createServices, type Services } from "./services/index.js";
import { createMemoryLeaseStore, type LeaseStore } from "./stores/lease.js";
import type { RegistryStore } from "./stores/registry.js";

export type AppDeps = {
  config: Pick<
    Config,
    | "serviceName"
    | "port"
    | "host"
    | "maxRequestBodyBytes"
    | "graphiql"
    | "maxPageSize"
    | "adminToken"
    | "heartbeatSweepIntervalSeconds"
    | "probes"
    | "breakers"
    | "calls"
    | "workflows"
  >;
  store: RegistryStore;
  /** Migrated already: the composition root migrates before it builds the app. */
  database: Database;
  events: Events;
  log: Logger;
  /** How often the live store is checked for lost state. Default 5,000 ms. */
  restoreCheckIntervalMs?: number;
  /** Leader leases shared by replicas; in memory when omitted (one gateway). */
  leases?: LeaseStore;
  /** How often breaker transitions missed over pub/sub are read back. Default 10,000 ms. */
  breakerResyncIntervalMs?: number;
  /** How often the workflow runner looks for work; tests shorten it. */
  workflowRunner?: { claimIntervalMs?: number };
};

export type App = {
  services: Services;
  /**
   * Restores an empty live store from the database, then listens on config.port
   * (0: any free port) and resolves with the base URL.
   */
  start(): Promise<{ url: string; port: number }>;
  /**
   * Stops accepting, closes WebSockets, waits for open requests, and writes what is
   * pending to the database; closing the backends is the caller's.
   */
  stop(): Promise<void>;
};

/** How long open requests (and SSE streams) get to finish when the gateway stops. */
const SHUTDOWN_GRACE_MS = 2000;

/** The whole gateway on one port, without owning its backends (main.ts does). */
export function createApp(deps: AppDeps): App {
  const { config, store, database, events, log } = deps;
  const services = createServices({
    store,
    database,
    events,
    log,
    maxPageSize: config.maxPageSize,
    restoreCheckIntervalMs: deps.restoreCheckIntervalMs,
    leases: deps.leases ?? createMemoryLeaseStore(),
    sweepIntervalMs: config.heartbeatSweepIntervalSeconds * 1000,
    probes: config.probes,
    breakers: config.breakers,
    calls: config.calls,
    breakerResyncIntervalMs: deps.breakerResyncIntervalMs,
    workflows: { ...config.workflows, ...deps.workflowRunner },
  });
  const graphql = createGraphQL({
    services,
    log,
    adminToken: config.adminToken,
    graphiql: config.graphiql,
  });
  const server = createHttpServer({
    graphql,
    rest: createRestRoutes({
      services,
      adminToken: config.adminToken,
      maxPageSize: config.maxPageSize,
    }),
    services,
    metrics: createMetrics(config.serviceName, {
      circuitBreakers: () => services.breakers.list(),
    }),
    log,
    serviceName: config.serviceName,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
  });
  const webSockets = attachGraphQLWebSocket(server, graphql, log, {
    maxPayloadBytes: config.maxRequestBodyBytes,
  });

  return {
    services,
    async start() {
      await services.start();
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.port, config.host, () => {
          const { port } = server.address() as AddressInfo;
          const host =
            config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
          resolve({ url: `http://${host}:${port}`, port });
        });
      });
    },
    async stop() {
      await webSockets.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // SSE subscriptions never end by themselves: give open requests a moment, then go.
        setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
      });
      await services.stop();
    },
  };
}
