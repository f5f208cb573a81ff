import type { Logger } from "pino";
import { every } from "./interval-loop.js";

export type WriteBehindOptions<T> = {
  /** Writes items in the order given; a throw holds them all for the next try. */
  write(items: T[]): Promise<void>;
  /** What the items are, for the log: "circuit breaker transitions". */
  name: string;
  log: Logger;
  /** Items handed to one write; 1 keeps every write that succeeded when a later one fails. */
  batchSize?: number;
  /** Items held while writes fail; beyond this the oldest are dropped, and that is logged. */
  maxHeld: number;
  /** How often held items are tried again. */
  retryIntervalMs: number;
};

/**
 * Writes that must not hold up the caller nor be lost to a short outage: items go out at
 * once, one write at a time and in order; while writes fail they are held (up to
 * `maxHeld`) and retried every `retryIntervalMs`. An outage is logged once when it starts
 * and once when it ends, not at every retry.
 */
export function createWriteBehind<T>({
  write,
  name,
  log,
  batchSize = Number.POSITIVE_INFINITY,
  maxHeld,
  retryIntervalMs,
}: WriteBehindOptions<T>) {
  let pending: T[] = [];
  let writing: Promise<void> | null = null;
  let failing = false;

  async function writePending(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending.slice(0, batchSize);
      try {
        await write(batch);
      } catch (error) {
        if (pending.length > maxHeld) {
          log.error({ dropped: pending.length - maxHeld }, `${name} dropped`);
          pending = pending.slice(-maxHeld);
        }
        if (!failing) log.warn({ err: error }, `database unavailable; ${name} held`);
        failing = true;
        return;
      }
      pending = pending.slice(batch.length);
      if (failing) log.info(`database reachable again; ${name} written`);
      failing = false;
    }
  }

  /** Writes what is held now; resolves when this attempt is over, whatever its outcome. */
  function flush(): Promise<void> {
    writing ??= writePending().finally(() => {
      writing = null;
    });
    return writing;
  }

  const retry = every(retryIntervalMs, () => (pending.length > 0 ? flush() : Promise.resolve()), {
    log,
    name: `${name} retry`,
  });

  return {
    /** Queues an item and, unless writes are failing, starts writing it. */
    add(item: T): void {
      pending.push(item);
      if (pending.length > maxHeld) {
        log.error({ dropped: pending.length - maxHeld }, `${name} dropped`);
        pending = pending.slice(-maxHeld);
      }
      // A write under way takes it on its next pass: the loop runs while items remain.
      if (!failing) void flush();
    },
    get held(): number {
      return pending.length;
    },
    flush,
    start(): void {
      retry.start();
    },
    /** Stops retrying and makes one last attempt at what is held. */
    async stop(): Promise<void> {
      await retry.stop();
      await writing;
      if (pending.length > 0) await flush();
    },
  };
}
