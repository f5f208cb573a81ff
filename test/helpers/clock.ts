import type { Clock } from "../../src/lib/clock.js";

export type ManualClock = Clock & {
  /** Moves the time of day forward; nothing else happens until something reads it. */
  advance(ms: number): void;
};

/**
 * A clock that stands still until the test moves it: a TTL, a lease or a breaker's reset
 * timeout then passes in one call, however busy the machine is. It starts at the real
 * time, so the timestamps it stamps look like any other. Timers still run on real time:
 * a test drives the work they would start by hand (sweep(), probeDue(), a call).
 */
export function manualClock(startMs = Date.now()): ManualClock {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance(ms) {
      if (ms < 0) throw new Error("a clock does not go back");
      nowMs += ms;
    },
  };
}
