import type { Logger } from "pino";
import type { Caller } from "../domain/access.js";
import type { Clock } from "../lib/clock.js";
import type { RateLimitStore } from "../stores/rate-limit.js";

export type RateLimitSettings = {
  /** Requests per minute per caller, sustained; 0: no limit (the default). */
  perMinute: number;
  /** Requests a caller may send at once after being idle; default `perMinute`. */
  burst: number;
};

/** A refused request: when the caller may try again, in whole seconds (Retry-After). */
export type RateLimited = { retryAfterSeconds: number };

export type RateLimiter = {
  readonly enabled: boolean;
  /** Counts one request of the caller; what to refuse it with, or null to let it through. */
  check(caller: Caller): Promise<RateLimited | null>;
};

/** The key a caller is counted under: its token, or for an anonymous caller its address. */
function rateLimitKey(caller: Caller): string {
  return caller.tokenId !== null
    ? `token:${caller.tokenId}`
    : `addr:${caller.address ?? "unknown"}`;
}

/**
 * Per-caller rate limits. When the store does not answer (Redis is down), the request
 * is let through and a warning logged once per outage: the limit is there against
 * abuse, and refusing everything while Redis is away would turn a Redis outage into a
 * full outage. What the gateway cannot serve without Redis it refuses anyway
 * (`services/live-store.ts`).
 */
export function createRateLimiter({
  store,
  settings,
  clock,
  log,
}: {
  store: RateLimitStore;
  settings: RateLimitSettings;
  clock: Clock;
  log: Logger;
}): RateLimiter {
  const enabled = settings.perMinute > 0;
  const intervalMs = enabled ? 60_000 / settings.perMinute : 0;
  const burst = Math.max(1, settings.burst);
  let failing = false;
  return {
    enabled,
    async check(caller) {
      if (!enabled) return null;
      let waitMs: number;
      try {
        waitMs = await store.take(rateLimitKey(caller), clock.now(), intervalMs, burst);
      } catch (error) {
        if (!failing) {
          log.warn(
            { err: error, store: store.kind },
            "rate limit store unavailable; letting requests through until it answers",
          );
        }
        failing = true;
        return null;
      }
      if (failing) log.info({ store: store.kind }, "rate limit store answers again");
      failing = false;
      return waitMs > 0 ? { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) } : null;
    },
  };
}
