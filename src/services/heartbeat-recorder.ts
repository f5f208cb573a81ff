import type { Logger } from "pino";
import type { RegistryRepository } from "../db/registry.js";
import type { StatusChange } from "./model.js";

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
  let transitions: StatusChange[] = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;
  let failing = false;

  async function writePending(): Promise<void> {
    const batch = beats;
    const changes = transitions;
    beats = new Map();
    transitions = [];
    try {
      while (changes.length > 0) {
        await repository.recordTransition(changes[0] as StatusChange);
        changes.shift();
      }
      await repository.recordHeartbeats([...batch].map(([id, at]) => ({ id, at })));
      if (failing) log.info("database reachable again; pending heartbeat writes flushed");
      failing = false;
    } catch (error) {
      // Put back what was not written, behind nothing newer: later beats win by time.
      for (const [id, at] of batch) if (!beats.has(id)) beats.set(id, at);
      const held = [...changes, ...transitions];
      if (held.length > maxPendingTransitions) {
        log.error(
          { dropped: held.length - maxPendingTransitions },
          "heartbeat transitions dropped",
        );
      }
      transitions = held.slice(-maxPendingTransitions);
      if (!failing) log.warn({ err: error }, "database unavailable; heartbeat writes held");
      failing = true;
    }
  }

  function flush(): Promise<void> {
    flushing ??= writePending().finally(() => {
      flushing = null;
      // A transition that arrived mid-flush goes now rather than at the next tick.
      if (transitions.length > 0 && !failing) void flush();
    });
    return flushing;
  }

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
      } catch (error) {
        transitions = [...transitions, change].slice(-maxPendingTransitions);
        if (!failing) log.warn({ err: error }, "database unavailable; heartbeat writes held");
        failing = true;
      }
    },

    flush,

    start(): void {
      timer ??= setInterval(() => void flush(), flushIntervalMs);
      timer.unref();
    },

    /** Stops the timer and writes what is pending; says so when some cannot be. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await flush();
      if (beats.size > 0 || transitions.length > 0) await flush();
      if (beats.size > 0 || transitions.length > 0) {
        log.error(
          { heartbeats: beats.size, transitions: transitions.length },
          "stopping with heartbeat writes the database did not take",
        );
      }
    },
  };
}

export type HeartbeatRecorder = ReturnType<typeof createHeartbeatRecorder>;
