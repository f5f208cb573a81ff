/**
 * The time of day, for everything in src/ that reads it: timestamps, TTLs, leases,
 * breaker timeouts, deadlines. One clock is handed down from the composition root
 * (`AppDeps.clock`), so a test can move time by hand instead of waiting for it.
 *
 * Timers (setTimeout, setInterval) still run on real time; a clock moved by hand only
 * changes what they find when they fire. `performance.now()` stays where one call's
 * duration is measured (latencies, drain and start-up times): that is monotonic and
 * sub-millisecond, and reads no time of day.
 */
export type Clock = {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
};

/** The machine's clock. The only reader of Date.now() in src/. */
export const systemClock: Clock = { now: () => Date.now() };
