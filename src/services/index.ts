import type { Logger } from "pino";
import { createAddressPolicy } from "../clients/address-guard.js";
import { createHealthProbe } from "../clients/health-probe.js";
import { createServiceClient } from "../clients/service-client.js";
import type { Config } from "../config.js";
import { createApiTokenRepository } from "../db/api-tokens.js";
import { createAuditRepository } from "../db/audit.js";
import { createBreakerRepository } from "../db/breakers.js";
import type { Database } from "../db/client.js";
import { createIntegrationRepository } from "../db/integrations.js";
import { createRegistryRepository } from "../db/registry.js";
import { createWorkflowRepository } from "../db/workflows.js";
import type { ConfiguredToken } from "../domain/access.js";
import { type BreakerSettings, defaultBreakerSettings } from "../domain/breaker.js";
import { type CallPolicySettings, defaultCallPolicy } from "../domain/call-policy.js";
import { noTelemetry, type Telemetry } from "../domain/telemetry.js";
import type { Events } from "../events.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { timed } from "../lib/timed.js";
import type { LeaseStore } from "../stores/lease.js";
import { createMemoryRateLimitStore, type RateLimitStore } from "../stores/rate-limit.js";
import type { RegistryStore } from "../stores/registry.js";
import { createAccess } from "./access.js";
import { createAuditTrail } from "./audit.js";
import { createBreakers } from "./breakers.js";
import { createCalls } from "./calls.js";
import { createDiscovery } from "./discovery.js";
import { createExpirySweeper } from "./expiry.js";
import { composeSupergraph } from "./federation-compose.js";
import { createSdlReader } from "./federation-sdl.js";
import { createHealth } from "./health.js";
import { createHeartbeatRecorder } from "./heartbeat-recorder.js";
import { createIntegrations } from "./integrations.js";
import { createLiveStore } from "./live-store.js";
import { createProber } from "./prober.js";
import { createRateLimiter, type RateLimitSettings } from "./rate-limit.js";
import { createReadiness } from "./readiness.js";
import { createRegistry } from "./registry.js";
import { createSubgraphFetch } from "./subgraph-fetch.js";
import { createSupergraph } from "./supergraph.js";
import { createWatch } from "./watch.js";
import { createWorkflows } from "./workflows.js";

export type ServicesDeps = {
  store: RegistryStore;
  database: Database;
  events: Events;
  log: Logger;
  maxPageSize: number;
  /** Every reading of the time of day below: timestamps, TTLs, leases, breakers. */
  clock?: Clock;
  /** ALLOWED_SERVICE_HOSTS: the hosts calls and probes may reach. Default any host. */
  allowedServiceHosts?: readonly string[];
  random?: () => number;
  /** How often the live store is checked for lost state. Default 5,000 ms. */
  restoreCheckIntervalMs?: number;
  /** Leader leases for background work; one process needs none shared. */
  leases: LeaseStore;
  /** How often overdue heartbeats are looked for. Default 5,000 ms. */
  sweepIntervalMs?: number;
  /** Active health probes; the defaults of Config when omitted. */
  probes?: Partial<Config["probes"]>;
  /** Circuit breakers of calls to services; the defaults of Config when omitted. */
  breakers?: Partial<BreakerSettings>;
  /** Policies of calls to services; the defaults of Config when omitted. */
  calls?: Partial<CallPolicySettings>;
  /** How often breaker transitions missed over pub/sub are read back. Default 10,000 ms. */
  breakerResyncIntervalMs?: number;
  /** The workflow runner; the defaults of Config when omitted. */
  workflows?: Partial<Config["workflows"]> & { leaseMs?: number; claimIntervalMs?: number };
  /** Tokens from the environment; none: open mode (every caller may do everything). */
  tokens?: readonly ConfiguredToken[];
  /** How often API tokens changed on other replicas are read. Default 500 ms. */
  tokenRefreshIntervalMs?: number;
  /** Per-caller rate limits; off when omitted. */
  rateLimits?: RateLimitSettings;
  /** Where they are counted: Redis for replicas; in memory when omitted. */
  rateLimitStore?: RateLimitStore;
  /** AUDIT_RETENTION_DAYS: how long audit entries are kept. Default 30. */
  auditRetentionDays?: number;
  /** How often the audit log is written through an outage. Default 1,000 ms. */
  auditRetryIntervalMs?: number;
  /** Where heartbeats, probes, calls, steps and round trips are counted. None when omitted. */
  telemetry?: Telemetry;
  /** The federated graph's composition; defaults when omitted. */
  federation?: {
    /** FEDERATION_DROP_AFTER_SECONDS, in ms. */
    dropAfterMs?: number;
    /** How long registry events are gathered into one composition. Default 50 ms. */
    debounceMs?: number;
    /** Told of each new supergraph, before it is reported: the server swaps to it. */
    onComposed?: (supergraphSdl: string) => Promise<void>;
    /** Told of every composition's result (metrics). */
    onResult?: (result: "composed" | "failed") => void;
  };
};

/** The facade every adapter (GraphQL, REST) calls; domain rules live behind it. */
export function createServices(deps: ServicesDeps) {
  const clock = deps.clock ?? systemClock;
  const now = () => new Date(clock.now());
  // One policy for registration, probes and calls, so none of them reaches further.
  const addressPolicy = createAddressPolicy({ allowedHosts: deps.allowedServiceHosts });
  const telemetry = deps.telemetry ?? noTelemetry;
  /** A repository whose every round trip is timed, under its name. */
  const measured = <T extends object>(name: string, repository: T): T =>
    timed(repository, (operation, seconds, failed) =>
      telemetry.databaseOperation(name, operation, seconds, failed),
    );
  const repository = measured("registry", createRegistryRepository(deps.database.db));
  const liveStore = createLiveStore({
    store: timed(deps.store, (operation, seconds, failed) =>
      telemetry.storeOperation(operation, seconds, failed),
    ),
    repository,
    log: deps.log,
    checkIntervalMs: deps.restoreCheckIntervalMs ?? RESTORE_CHECK_INTERVAL_MS,
  });
  // Everything but restoring and readiness reads the live store through the guard.
  const store = liveStore.store;
  const heartbeats = createHeartbeatRecorder({ repository, log: deps.log });
  const access = createAccess({
    configured: deps.tokens ?? [],
    repository: measured("apiTokens", createApiTokenRepository(deps.database.db)),
    clock,
    log: deps.log,
    refreshIntervalMs: deps.tokenRefreshIntervalMs,
  });
  const audit = createAuditTrail({
    repository: measured("audit", createAuditRepository(deps.database.db)),
    leases: deps.leases,
    clock,
    log: deps.log,
    maxPageSize: deps.maxPageSize,
    retentionDays: deps.auditRetentionDays ?? 30,
    retryIntervalMs: deps.auditRetryIntervalMs,
  });
  const registry = createRegistry({
    store,
    repository,
    heartbeats,
    events: deps.events,
    telemetry,
    maxPageSize: deps.maxPageSize,
    addressPolicy,
    now,
  });
  const expiry = createExpirySweeper({
    store,
    registry,
    leases: deps.leases,
    log: deps.log,
    intervalMs: deps.sweepIntervalMs,
    now: () => clock.now(),
  });
  const prober = createProber({
    store,
    registry,
    probe: createHealthProbe({ addressPolicy, timeoutMs: deps.probes?.timeoutMs }),
    leases: deps.leases,
    log: deps.log,
    telemetry,
    intervalMs: deps.probes?.intervalMs,
    concurrency: deps.probes?.concurrency,
    fallAfter: deps.probes?.fallAfter,
    riseAfter: deps.probes?.riseAfter,
    now: () => clock.now(),
  });
  const callPolicy = { ...defaultCallPolicy, ...deps.calls };
  const breakers = createBreakers({
    settings: { ...defaultBreakerSettings, ...deps.breakers },
    events: deps.events,
    leases: deps.leases,
    repository: measured("breakers", createBreakerRepository(deps.database.db)),
    log: deps.log,
    now: () => clock.now(),
    // Long enough for the trial calls to finish, retries included.
    trialLeaseMs: callPolicy.timeoutMs * callPolicy.maxAttempts + 5000,
    resyncIntervalMs: deps.breakerResyncIntervalMs,
    isRegistered: async (serviceId) => (await store.get(serviceId)) !== null,
    registeredIds: async () => (await store.find({})).map((service) => service.id),
    // The client is built below, before any instance can be unregistered.
    onUnregistered: (serviceId) => client.forget(serviceId),
  });
  const client = createServiceClient({
    settings: callPolicy,
    breakerOf: breakers.of,
    addressPolicy,
    clock,
  });
  const discovery = createDiscovery({
    store,
    maxPageSize: deps.maxPageSize,
    now: () => clock.now(),
    random: deps.random,
    isCallable: breakers.isCallable,
  });
  const readiness = createReadiness([
    { name: `registry store (${deps.store.kind})`, check: () => deps.store.ping() },
    {
      name: "live registry",
      check: async () => {
        if (!liveStore.isRestored()) throw new Error("not yet restored from the database");
      },
    },
    {
      name: `database (${deps.database.kind})`,
      check: async () => {
        await deps.database.ping();
        if (!(await deps.database.isMigrated())) throw new Error("migrations not applied");
      },
    },
  ]);
  const calls = createCalls({
    discovery,
    client,
    breakerStateOf: (serviceId) => breakers.forService(serviceId).state,
    telemetry,
  });
  const integrations = createIntegrations({
    repository: measured("integrations", createIntegrationRepository(deps.database.db)),
    discovery,
    call: calls.call,
    now,
  });
  const supergraph = createSupergraph({
    store,
    events: deps.events,
    sdl: createSdlReader(client),
    compose: composeSupergraph,
    isCallable: breakers.isCallable,
    clock,
    log: deps.log.child({ component: "supergraph" }),
    dropAfterMs: deps.federation?.dropAfterMs,
    debounceMs: deps.federation?.debounceMs,
    onComposed: (sdl) => deps.federation?.onComposed?.(sdl) ?? Promise.resolve(),
    onResult: (result) => deps.federation?.onResult?.(result),
  });
  const subgraphs = createSubgraphFetch({
    discovery,
    client,
    breakerStateOf: (serviceId) => breakers.forService(serviceId).state,
    composedVersionOf: supergraph.composedVersionOf,
    strategyOf: supergraph.strategyOf,
  });
  const workflows = createWorkflows({
    repository: measured("workflows", createWorkflowRepository(deps.database.db, clock)),
    events: deps.events,
    log: deps.log,
    call: (request) =>
      calls.callAsGateway(request, { requestId: request.requestId, traceparent: null }),
    maxPageSize: deps.maxPageSize,
    ...deps.workflows,
    clock,
    telemetry,
  });
  /** Writes what is pending; the caller closes the backends afterwards. */
  async function stop(): Promise<void> {
    await supergraph.stop();
    await workflows.stop();
    await liveStore.stop();
    await prober.stop();
    await expiry.stop();
    await heartbeats.stop();
    await breakers.stop();
    await access.stop();
    // Last: the requests drained before this may have queued entries up to the end.
    await audit.stop();
    await client.close();
  }

  const rateLimiter = createRateLimiter({
    store: deps.rateLimitStore ?? createMemoryRateLimitStore(),
    settings: deps.rateLimits ?? { perMinute: 0, burst: 1 },
    clock,
    log: deps.log,
  });

  return {
    access,
    rateLimiter,
    audit,
    registry,
    liveStore,
    discovery,
    breakers,
    workflows,
    calls,
    integrations,
    supergraph,
    subgraphs,
    expiry,
    prober,
    watch: createWatch(deps.events),
    readiness,
    health: createHealth({
      store,
      readiness,
      breakers,
      selfPreservation: expiry.selfPreservation,
      warnings: access.mode === "open" ? [OPEN_MODE_WARNING] : [],
      degradedBecause: () => {
        const { status, errors } = supergraph.snapshot();
        return status === "FAILED"
          ? [`supergraph composition failed (the last good one serves): ${errors.join("; ")}`]
          : [];
      },
      now,
    }),

    /** Restores an empty live store from the database, then starts background work. */
    async start(): Promise<void> {
      try {
        await access.start();
        audit.start();
        await liveStore.start();
        await breakers.start();
        heartbeats.start();
        expiry.start();
        if (deps.probes?.enabled ?? true) prober.start();
        await workflows.start();
        supergraph.start();
      } catch (error) {
        // Nothing keeps running behind a start that failed.
        await stop().catch(() => {});
        throw error;
      }
    },

    stop,
  };
}

export type Services = ReturnType<typeof createServices>;

/** How often the live store is checked for lost state (e.g. a Redis restart). */
const RESTORE_CHECK_INTERVAL_MS = 5000;

/** Said at start, in systemHealth and on GraphiQL while no token is configured. */
export const OPEN_MODE_WARNING =
  "Open mode: no token is configured (ADMIN_TOKEN, AUTH_TOKENS, AUTH_TOKENS_FILE), so every caller may do everything.";
