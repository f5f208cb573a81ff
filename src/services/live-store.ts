import type { Logger } from "pino";
import type { RegistryRepository } from "../db/registry.js";
import { GatewayError } from "../domain/errors.js";
import { every } from "../lib/interval-loop.js";
import type { RegistryStore } from "../stores/registry.js";

export type LiveStoreDeps = {
  /** The live store itself, which restoring writes to directly. */
  store: RegistryStore;
  repository: RegistryRepository;
  log: Logger;
  /** How often the store is checked for lost state (a flush the connection never saw). */
  checkIntervalMs: number;
};

/** How often a restore that failed is tried again. */
const RETRY_WHILE_LOST_MS = 500;

/** Records written to the store at once while restoring (one pipelined round trip). */
const RESTORE_CHUNK = 100;

/**
 * The live store as the registry may use it: only once it holds what the database
 * holds. A Redis that restarts comes back empty; answering from it would say NOT_FOUND
 * for registered services, list a fraction of them with HTTP 200, and let another
 * token take over an id whose owner the empty store no longer knows. So from the moment
 * the connection drops until the store is restored again, every registry read and
 * write through `store` answers SERVICE_UNAVAILABLE, and restoring starts the moment the
 * connection is back (the periodic check catches a flush that kept the connection).
 */
export function createLiveStore({ store, repository, log, checkIntervalMs }: LiveStoreDeps) {
  let restored = false;
  // Counts lost connections: a check that began before one must not mark the store
  // restored after it, from an answer the old server gave.
  let epoch = 0;
  let running: Promise<void> | null = null;

  async function checkAndRestore(): Promise<void> {
    const startedIn = epoch;
    if (await store.isRestored()) {
      if (startedIn === epoch) restored = true;
      return;
    }
    restored = false;
    const started = performance.now();
    const records = await repository.loadAll();
    let written = 0;
    for (let start = 0; start < records.length; start += RESTORE_CHUNK) {
      const chunk = records.slice(start, start + RESTORE_CHUNK);
      // Put only where absent: a service already there (written by a replica that was
      // restored first) is newer than its row.
      const results = await Promise.all(chunk.map((record) => store.put(record, null)));
      written += results.filter((result) => result.ok).length;
    }
    await store.markRestored();
    if (startedIn !== epoch) return;
    restored = true;
    log.info(
      { restored: written, ms: Math.round(performance.now() - started) },
      "live registry restored from the database",
    );
  }

  /** One restore at a time; a call while one runs waits for it. */
  const restoreNow = (): Promise<void> => {
    running ??= checkAndRestore().finally(() => {
      running = null;
    });
    return running;
  };

  const check = every(checkIntervalMs, restoreNow, { log, name: "live registry check" });
  // While the store is not whole (a restore that failed: the database away as well),
  // try again often, so it is whole soon after both are back.
  const retry = every(RETRY_WHILE_LOST_MS, () => (restored ? Promise.resolve() : restoreNow()), {
    log,
    name: "live registry restore",
  });
  let unsubscribe: (() => void) | null = null;

  return {
    /** The store for everything but restoring: refuses while the live state is not whole. */
    store: guardedStore(store, () => restored),

    isRestored: (): boolean => restored,

    /** Checks the store and restores it if it lost its state; what start() does first. */
    restore: restoreNow,

    /** Restores now if needed; a store that is down at start is retried every 500 ms. */
    async start(): Promise<void> {
      unsubscribe =
        store.onConnectionChange?.((connected) => {
          if (!connected) {
            epoch += 1;
            restored = false;
            return;
          }
          // A failure here is the retry loop's to log and try again.
          restoreNow().catch(() => {});
        }) ?? null;
      await restoreNow().catch((error: unknown) =>
        log.warn({ err: error }, "live registry not restored yet; retrying"),
      );
      check.start();
      retry.start();
    },

    async stop(): Promise<void> {
      unsubscribe?.();
      await Promise.all([check.stop(), retry.stop()]);
      await running?.catch(() => {});
    },
  };
}

function notRestored(): GatewayError {
  return new GatewayError(
    "SERVICE_UNAVAILABLE",
    "The live registry is being restored from the database; try again shortly.",
    { dependency: "registry store" },
  );
}

/** The same store, but every registry read and write refuses while `isWhole` is false. */
function guardedStore(store: RegistryStore, isWhole: () => boolean): RegistryStore {
  const guard =
    <A extends unknown[], R>(operation: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      isWhole() ? operation(...args) : Promise.reject(notRestored());
  return {
    kind: store.kind,
    get: guard(store.get.bind(store)),
    find: guard(store.find.bind(store)),
    put: guard(store.put.bind(store)),
    remove: guard(store.remove.bind(store)),
    heartbeat: guard(store.heartbeat.bind(store)),
    saveHealth: guard(store.saveHealth.bind(store)),
    appendHealthCheck: guard(store.appendHealthCheck.bind(store)),
    recentHealthChecks: guard(store.recentHealthChecks.bind(store)),
    nextCounter: guard(store.nextCounter.bind(store)),
    revision: guard(store.revision.bind(store)),
    appendChange: guard(store.appendChange.bind(store)),
    changesSince: guard(store.changesSince.bind(store)),
    isRestored: () => store.isRestored(),
    markRestored: () => store.markRestored(),
    ping: () => store.ping(),
  };
}
