import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Database } from "./client.js";
import { isDatabaseUnavailable } from "./errors.js";

/** Waits between attempts grow from the first to the last, with jitter. */
const FIRST_RETRY_MS = 100;
/** Short, so the gateway is ready well within a second of the database coming up. */
const LAST_RETRY_MS = 500;
/** A long outage is logged once in this many attempts, not every second. */
const LOG_EVERY_ATTEMPTS = 30;

/**
 * Applies the migrations as soon as the database answers. A database that is down or
 * still starting (refused, `57P03` in recovery) is waited for, with backoff, for as
 * long as it takes: a supervisor would only restart-loop a gateway that gave up. An
 * error the database raises about the migration itself (a bug, a wrong password) is
 * thrown. `onWaiting` hears each failure (null once migrated), for readiness to report.
 */
export async function migrateWhenReachable(
  database: Database,
  {
    log,
    onWaiting,
    signal,
  }: { log: Logger; onWaiting: (error: string | null) => void; signal?: AbortSignal },
): Promise<void> {
  let delay = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await database.migrate();
      if (attempt > 1) log.info({ attempts: attempt }, "database reachable; migrations applied");
      onWaiting(null);
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      onWaiting(describe(error));
      if (attempt === 1 || attempt % LOG_EVERY_ATTEMPTS === 0) {
        log.warn({ err: error, attempt }, "database not reachable; waiting for it");
      }
      await sleep(delay * (0.75 + Math.random() / 2), undefined, { signal });
      delay = Math.min(delay * 2, LAST_RETRY_MS);
    }
  }
}

/** pg's refusals of a host with several addresses are AggregateErrors without a message. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return error.message || code || error.name;
}
