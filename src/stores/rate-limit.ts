import type { Redis, Result } from "ioredis";
import { luaSource } from "./lua.js";

/**
 * Request counts per caller, as a GCRA (generic cell rate algorithm): each key holds one
 * number, the theoretical arrival time (TAT) at which its allowance is whole again. A
 * request moves it `intervalMs` ahead; it is refused while the TAT is more than `burst - 1`
 * intervals ahead of now. That is a sliding window without buckets: `burst` requests at
 * once, then one per interval, and an idle key is the same as none.
 */
export interface RateLimitStore {
  readonly kind: "memory" | "redis";
  /** Counts one request of `key` at `nowMs`: 0 when allowed, else the milliseconds to wait. */
  take(key: string, nowMs: number, intervalMs: number, burst: number): Promise<number>;
}

/** The GCRA step both stores take, lua/rate-limit.lua the same in Redis. */
function step(stored: number, nowMs: number, intervalMs: number, burst: number) {
  const tat = Math.max(stored, nowMs);
  const wait = tat - nowMs - intervalMs * (burst - 1);
  return wait > 0 ? { wait: Math.ceil(wait), tat: stored } : { wait: 0, tat: tat + intervalMs };
}

/**
 * One process. Memory is bounded: a key whose TAT has passed is dropped (it means no
 * more than no key), and beyond `maxKeys` the least recently counted key goes first.
 */
export function createMemoryRateLimitStore({
  maxKeys = 100_000,
}: {
  maxKeys?: number;
} = {}): RateLimitStore {
  // Insertion order is the order of last use: a key counted again is re-inserted.
  const tats = new Map<string, number>();
  function evict(nowMs: number) {
    for (const [key, tat] of tats) {
      if (tat <= nowMs) tats.delete(key);
    }
    for (const key of tats.keys()) {
      if (tats.size < maxKeys) break;
      tats.delete(key);
    }
  }
  return {
    kind: "memory",
    async take(key, nowMs, intervalMs, burst) {
      const { wait, tat } = step(tats.get(key) ?? 0, nowMs, intervalMs, burst);
      if (wait > 0) return wait;
      tats.delete(key);
      if (tats.size >= maxKeys) evict(nowMs);
      tats.set(key, tat);
      return 0;
    },
  };
}

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** lua/rate-limit.lua: 0 when allowed, else the milliseconds to wait. */
    rateLimitTake(
      key: string,
      nowMs: number,
      intervalMs: number,
      burst: number,
    ): Result<number, Context>;
  }
}

/**
 * Shared by every replica on one Redis (key `<prefix>ratelimit:<key>`), one round trip
 * per request. The time comes from the gateway's clock, not Redis's, so replicas count
 * against the same TAT give or take their clock skew; each key expires with its TAT.
 */
export function createRedisRateLimitStore({
  redis,
  keyPrefix,
}: {
  redis: Redis;
  keyPrefix: string;
}): RateLimitStore {
  redis.defineCommand("rateLimitTake", { numberOfKeys: 0, lua: luaSource("rate-limit") });
  return {
    kind: "redis",
    async take(key, nowMs, intervalMs, burst) {
      return redis.rateLimitTake(`${keyPrefix}ratelimit:${key}`, nowMs, intervalMs, burst);
    },
  };
}
