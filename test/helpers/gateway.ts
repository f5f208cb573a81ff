import { pino } from "pino";
import { createApp } from "../../src/app.js";
import type { Config } from "../../src/config.js";
import type { Database } from "../../src/db/client.js";
import { type ConfiguredToken, gatewayCaller } from "../../src/domain/access.js";
import { defaultBreakerSettings } from "../../src/domain/breaker.js";
import { defaultCallPolicy } from "../../src/domain/call-policy.js";
import { createInProcessEvents, type Events } from "../../src/events.js";
import type { Clock } from "../../src/lib/clock.js";
import type { LeaseStore } from "../../src/stores/lease.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import type { RateLimitStore } from "../../src/stores/rate-limit.js";
import type { RegistryStore } from "../../src/stores/registry.js";
import { migratedPglite } from "./database.js";

export type GraphQLResponse<T = Record<string, unknown>> = {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
};

export type TestGateway = Awaited<ReturnType<typeof startGateway>>;

/**
 * `TEST_ACCESS_MODE=tokens` (`npm run test:tokens`): the happy paths again with tokens on.
 * Every gateway started without tokens of its own then gets STANDARD_ADMIN_TOKEN, and
 * `graphql()`, `authHeaders()` and `wsConnectionParams()` send it.
 */
export const tokensMode = process.env.TEST_ACCESS_MODE === "tokens";
export const STANDARD_ADMIN_TOKEN = "test-suite-admin-token-0123456789";

/** Headers a raw request to a gateway started without tokens needs: none in open mode. */
export function authHeaders(): Record<string, string> {
  return tokensMode ? { authorization: `Bearer ${STANDARD_ADMIN_TOKEN}` } : {};
}

/** graphql-ws connectionParams for a gateway started without tokens. */
export function wsConnectionParams(): Record<string, string> {
  return authHeaders();
}

/** The real gateway on a free port, with whatever store the test gives it. */
export async function startGateway(
  options: {
    store?: RegistryStore;
    database?: Database;
    events?: Events;
    /** An admin token: with it (or `tokens`) the gateway is in tokens mode. */
    adminToken?: string;
    /** More tokens, as AUTH_TOKENS gives them. */
    tokens?: ConfiguredToken[];
    /** Schema introspection; on unless a test turns it off. */
    introspection?: boolean;
    maxRequestBodyBytes?: number;
    /** Background probing; off unless a test turns it on. */
    probes?: Partial<Config["probes"]>;
    breakers?: Partial<Config["breakers"]>;
    calls?: Partial<Config["calls"]>;
    leases?: LeaseStore;
    breakerResyncIntervalMs?: number;
    workflows?: Partial<Config["workflows"]>;
    workflowRunner?: { claimIntervalMs?: number };
    restoreCheckIntervalMs?: number;
    /** Keep-alive connections idle at stop are closed at once unless a test says. */
    idleConnectionGraceMs?: number;
    shutdownTimeoutSeconds?: number;
    /** The time of day (manualClock() to move it by hand); the system's when omitted. */
    clock?: Clock;
    /** ALLOWED_SERVICE_HOSTS, as parsed; any host when omitted. */
    allowedServiceHosts?: string[];
    /** Per-caller rate limits; off when omitted. */
    rateLimits?: Config["rateLimits"];
    rateLimitStore?: RateLimitStore;
    webSockets?: Partial<Config["webSockets"]>;
    /** AUDIT_RETENTION_DAYS; 30 when omitted. */
    auditRetentionDays?: number;
    /** FEDERATION_PATH, FEDERATION_DROP_AFTER_SECONDS (ms), FEDERATION_FORWARD_HEADERS. */
    federation?: Partial<Config["federation"]>;
    /** The built dashboard's folder (test/dashboard builds one); dist/dashboard when omitted. */
    dashboardDir?: string;
  } = {},
) {
  const adminToken =
    options.adminToken ??
    (tokensMode && !options.tokens?.length ? STANDARD_ADMIN_TOKEN : undefined);
  const store = options.store ?? createMemoryRegistryStore();
  const database = options.database ?? (await migratedPglite());
  const app = createApp({
    config: {
      serviceName: "gateway-under-test",
      port: 0,
      host: "127.0.0.1",
      shutdownTimeoutSeconds: options.shutdownTimeoutSeconds ?? 10,
      maxRequestBodyBytes: options.maxRequestBodyBytes ?? 1024 * 1024,
      graphiql: true,
      maxPageSize: 500,
      auditRetentionDays: options.auditRetentionDays ?? 30,
      access: {
        tokens: [
          ...(adminToken
            ? [
                {
                  secret: adminToken,
                  role: "admin" as const,
                  name: "admin",
                  serviceTypes: null,
                },
              ]
            : []),
          ...(options.tokens ?? []),
        ],
        introspection: options.introspection ?? true,
      },
      allowedServiceHosts: options.allowedServiceHosts ?? [],
      heartbeatSweepIntervalSeconds: 5,
      rateLimits: options.rateLimits ?? { perMinute: 0, burst: 1 },
      webSockets: {
        connectionInitTimeoutMs: 10_000,
        maxSubscriptionsPerConnection: 100,
        ...options.webSockets,
      },
      // Tests probe by hand (checkServiceHealth, prober.probeDue), and most register
      // services at addresses nothing answers on.
      probes: {
        enabled: false,
        intervalMs: 15_000,
        timeoutMs: 500,
        concurrency: 10,
        fallAfter: 3,
        riseAfter: 2,
        ...options.probes,
      },
      federation: {
        path: "/federation/graphql",
        dropAfterMs: 600_000,
        forwardHeaders: [],
        ...options.federation,
      },
      breakers: { ...defaultBreakerSettings, ...options.breakers },
      // Short waits, so retries and timeouts do not slow the suite down.
      calls: { ...defaultCallPolicy, timeoutMs: 1000, retryBaseDelayMs: 10, ...options.calls },
      workflows: {
        maxConcurrent: 10,
        executionTimeoutSeconds: 3600,
        leaseMs: 30_000,
        definitionsDir: null,
        ...options.workflows,
      },
    },
    store,
    database,
    events: options.events ?? createInProcessEvents(),
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    clock: options.clock,
    restoreCheckIntervalMs: options.restoreCheckIntervalMs ?? 200,
    leases: options.leases,
    rateLimitStore: options.rateLimitStore,
    breakerResyncIntervalMs: options.breakerResyncIntervalMs,
    workflowRunner: { claimIntervalMs: 100, ...options.workflowRunner },
    dashboardDir: options.dashboardDir,
    // Waiting out the keep-alive timeout of fetch's idle connections would add seconds
    // to every test's stop.
    idleConnectionGraceMs: options.idleConnectionGraceMs ?? 0,
  });
  const { url } = await app.start();

  async function graphqlAt<T>(
    path: string,
    query: string,
    variables: Record<string, unknown>,
    headers: Record<string, string>,
  ): Promise<GraphQLResponse<T>> {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        // In tokens mode a request without one of its own goes as the admin: the happy
        // paths hold in both modes. `authorization: ""` sends none.
        ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLResponse<T>;
  }

  return {
    url,
    app,
    store,
    database,
    /** An operation on the control plane, /graphql. */
    graphql: <T = Record<string, unknown>>(
      query: string,
      variables: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) => graphqlAt<T>("/graphql", query, variables, headers),
    /** An operation on the federated graph. */
    federated: <T = Record<string, unknown>>(
      query: string,
      variables: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) => graphqlAt<T>(options.federation?.path ?? "/federation/graphql", query, variables, headers),
    /**
     * Unregisters every service, between tests: from the database too, since a
     * registration the live store misses takes its owner and status from there.
     */
    async removeAllServices() {
      for (const service of await store.find({})) {
        await app.services.registry.unregister(service.id, gatewayCaller);
      }
    },
    async stop() {
      await app.stop();
      // A database the test handed in is the test's to close.
      if (!options.database) await database.close();
    },
  };
}

/** The data of a response that must have succeeded; the errors otherwise, to fail loudly. */
export function dataOf<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length || !response.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

/** The first error's code, for asserting on expected failures. */
export function errorCodeOf(response: GraphQLResponse<unknown>): unknown {
  return response.errors?.[0]?.extensions?.code;
}
