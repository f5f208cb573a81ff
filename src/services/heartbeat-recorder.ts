import type { Logger } from "pino";
import type { RegistryRepository } from "../db/registry.js";
import type { StatusChange } from "../domain/service.js";
import { every } from "../lib/interval-loop.js";
import { createWriteBehind } from "../lib/write-behind.js";

export type HeartbeatRecorderOptions = {
  repository: RegistryRepository;
  log: Logger;
  /** How often pending writes reach the database. Default 2,000 ms. */
  flushIntervalMs?: number;
  /** Transitions kept while the database is away; the oldest go first beyond this. */
  maxPendingTransitions?: number;
};

/**
 * Heartbeats are the hot path, so they reach the database behind the live store: their
 * times in batched statements every couple of seconds, and the transitions they cause
 * (an OFFLINE service coming back) at once. While the database is away both wait here
 * and are retried with each flush; only a process that dies during the outage, or more
 * than `maxPendingTransitions` transitions, lose any (the oldest), and that is logged.
 */
export function createHeartbeatRecorder({
  repository,
  log,
  flushIntervalMs = 2000,
  maxPendingTransitions = 10_000,
}: HeartbeatRecorderOptions) {
  let beats = new Map<string, string>();
  let writingBeats: Promise<void> | null = null;
  let beatsFailing = false;
  // One at a time, so a transition written before an outage is never written twice.
  const transitions = createWriteBehind<StatusChange>({
    write: ([change]) => (change ? repository.recordTransition(change) : Promise.resolve()),
    batchSize: 1,
    name: "heartbeat transitions",
    log,
    maxHeld: maxPendingTransitions,
    retryIntervalMs: flushIntervalMs,
  });

  async function writeBeats(): Promise<void> {
    const batch = beats;
    beats = new Map();
    try {
      await repository.recordHeartbeats([...batch].map(([id, at]) => ({ id, at })));
      if (beatsFailing) log.info("database reachable again; pending heartbeat times written");
      beatsFailing = false;
    } catch (error) {
      // Put back what was not written, behind nothing newer: later beats win by time.
      for (const [id, at] of batch) if (!beats.has(id)) beats.set(id, at);
      if (!beatsFailing) log.warn({ err: error }, "database unavailable; heartbeat times held");
      beatsFailing = true;
    }
  }

  /** Transitions first, then the times: a time is never recorded ahead of its transition. */
  async function flush(): Promise<void> {
    await transitions.flush();
    if (transitions.held > 0 || beats.size === 0) return;
    writingBeats ??= writeBeats().finally(() => {
      writingBeats = null;
    });
    await writingBeats;
  }

  const tick = every(flushIntervalMs, flush, { log, name: "heartbeat time writes" });

  return {
    recordBeat(id: string, at: string): void {
      beats.set(id, at);
    },

    /**
     * Writes a transition a heartbeat caused, now; while the database is away it is held
     * and written with a later flush, so the heartbeat itself still succeeds.
     */
    async writeTransition(change: StatusChange): Promise<void> {
      try {
        await repository.recordTransition(change);
      } catch {
        transitions.add(change);
      }
    },

    flush,

    start(): void {
      transitions.start();
      tick.start();
    },

    /** Stops the timers and writes what is pending; says so when some cannot be. */
    async stop(): Promise<void> {
      await tick.stop();
      await transitions.stop();
      await flush();
      if (beats.size > 0 || transitions.held > 0) {
        log.error(
          { heartbeats: beats.size, transitions: transitions.held },
          "stopping with heartbeat writes the database did not take",
        );
      }
    },
  };
}

export type HeartbeatRecorder = ReturnType<typeof createHeartbeatRecorder>;
