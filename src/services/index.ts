import type { Logger } from "pino";
import { createHealthProbe } from "../clients/health-probe.js";
import type { Config } from "../config.js";
import type { Database } from "../db/client.js";
import { createRegistryRepository } from "../db/registry.js";
import type { Events } from "../events.js";
import type { LeaseStore } from "../stores/lease.js";
import type { RegistryStore } from "../stores/registry.js";
import { every } from "./background.js";
import { createBreakers } from "./breakers.js";
import { createDiscovery } from "./discovery.js";
import { createExpirySweeper } from "./expiry.js";
import { createHealth } from "./health.js";
import { createHeartbeatRecorder } from "./heartbeat-recorder.js";
import { createProber } from "./prober.js";
import { createReadiness } from "./readiness.js";
import { createRegistry } from "./registry.js";
import { createWatch } from "./watch.js";

export type ServicesDeps = {
  store: RegistryStore;
  database: Database;
  events: Events;
  log: Logger;
  maxPageSize: number;
  now?: () => Date;
  random?: () => number;
  /** How often the live store is checked for lost state. Default 5,000 ms. */
  restoreCheckIntervalMs?: number;
  /** Leader leases for background work; one process needs none shared. */
  leases: LeaseStore;
  /** How often overdue heartbeats are looked for. Default 5,000 ms. */
  sweepIntervalMs?: number;
  /** Active health probes; the defaults of Config when omitted. */
  probes?: Partial<Config["probes"]>;
};

/** The facade every adapter (GraphQL, REST) calls; domain rules live behind it. */
export function createServices(deps: ServicesDeps) {
  const now = deps.now ?? (() => new Date());
  const repository = createRegistryRepository(deps.database.db);
  const heartbeats = createHeartbeatRecorder({ repository, log: deps.log });
  const registry = createRegistry({
    store: deps.store,
    repository,
    heartbeats,
    events: deps.events,
    maxPageSize: deps.maxPageSize,
    now,
  });
  const expiry = createExpirySweeper({
    store: deps.store,
    registry,
    leases: deps.leases,
    log: deps.log,
    intervalMs: deps.sweepIntervalMs,
    now: () => now().getTime(),
  });
  const prober = createProber({
    store: deps.store,
    registry,
    probe: createHealthProbe({ timeoutMs: deps.probes?.timeoutMs }),
    leases: deps.leases,
    log: deps.log,
    intervalMs: deps.probes?.intervalMs,
    concurrency: deps.probes?.concurrency,
    fallAfter: deps.probes?.fallAfter,
    riseAfter: deps.probes?.riseAfter,
    now: () => now().getTime(),
  });
  const breakers = createBreakers();
  const readiness = createReadiness([
    { name: `registry store (${deps.store.kind})`, check: () => deps.store.ping() },
    {
      name: "live registry",
      check: async () => {
        if (!(await deps.store.isRestored())) {
          throw new Error("not yet restored from the database");
        }
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
  const liveStore = keepLiveStoreRestored(
    registry,
    deps.log,
    deps.restoreCheckIntervalMs ?? RESTORE_CHECK_INTERVAL_MS,
  );
  return {
    registry,
    discovery: createDiscovery({
      store: deps.store,
      maxPageSize: deps.maxPageSize,
      now: () => now().getTime(),
      random: deps.random,
    }),
    breakers,
    expiry,
    prober,
    watch: createWatch(deps.events),
    readiness,
    health: createHealth({
      store: deps.store,
      readiness,
      breakers,
      selfPreservation: expiry.selfPreservation,
      now,
    }),

    /** Restores an empty live store from the database, then starts background work. */
    async start(): Promise<void> {
      await liveStore.start();
      heartbeats.start();
      expiry.start();
      if (deps.probes?.enabled ?? true) prober.start();
    },

    /** Writes what is pending; the caller closes the backends afterwards. */
    async stop(): Promise<void> {
      await liveStore.stop();
      await prober.stop();
      await expiry.stop();
      await heartbeats.stop();
    },
  };
}

export type Services = ReturnType<typeof createServices>;

/** How often the live store is checked for lost state (e.g. a Redis restart). */
const RESTORE_CHECK_INTERVAL_MS = 5000;

/**
 * Restores the live store from the database at start, and again whenever it comes back
 * empty (Redis restarted or flushed). A store that is down at start does not stop the
 * gateway: readiness says so until the first restore succeeds.
 */
function keepLiveStoreRestored(
  registry: ReturnType<typeof createRegistry>,
  log: Logger,
  intervalMs: number,
) {
  const restore = async () => {
    const restored = await registry.restoreLiveStore();
    if (restored !== null) log.info({ restored }, "live registry restored from the database");
  };
  const loop = every(intervalMs, restore, { log, name: "live registry restore" });
  return {
    /** A store that is down at start is logged and tried again by the loop. */
    async start(): Promise<void> {
      await restore().catch((error: unknown) =>
        log.warn({ err: error }, "live registry not restored yet; retrying"),
      );
      loop.start();
    },
    stop: () => loop.stop(),
  };
}
