import type { Redis, Result } from "ioredis";
import { type Clock, systemClock } from "../lib/clock.js";
import { luaSource } from "./lua.js";

/**
 * Leader leases: one holder at a time per name, for a limited time. A holder renews
 * before the lease runs out; when it dies, another takes over once it has.
 */
export interface LeaseStore {
  /** Takes the lease, or renews it when `holder` has it already. True when held. */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives it up early (a clean shutdown), if `holder` has it. */
  release(name: string, holder: string): Promise<void>;
}

/** One process: the only candidate always leads. */
export function createMemoryLeaseStore({
  clock = systemClock,
}: {
  clock?: Clock;
} = {}): LeaseStore {
  const holders = new Map<string, { holder: string; until: number }>();
  return {
    async acquire(name, holder, ttlMs) {
      const current = holders.get(name);
      const at = clock.now();
      if (current && current.holder !== holder && current.until > at) return false;
      holders.set(name, { holder, until: at + ttlMs });
      return true;
    },
    async release(name, holder) {
      if (holders.get(name)?.holder === holder) holders.delete(name);
    },
  };
}

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** lua/lease-acquire.lua: 1 when `holder` has the lease. */
    leaseAcquire(key: string, holder: string, ttlMs: number): Result<number, Context>;
    /** lua/lease-release.lua */
    leaseRelease(key: string, holder: string): Result<number, Context>;
  }
}

/** Leases shared by every replica on one Redis (key `<prefix>lease:<name>`). */
export function createRedisLeaseStore({
  redis,
  keyPrefix,
}: {
  redis: Redis;
  keyPrefix: string;
}): LeaseStore {
  redis.defineCommand("leaseAcquire", { numberOfKeys: 0, lua: luaSource("lease-acquire") });
  redis.defineCommand("leaseRelease", { numberOfKeys: 0, lua: luaSource("lease-release") });
  const key = (name: string) => `${keyPrefix}lease:${name}`;
  return {
    async acquire(name, holder, ttlMs) {
      return (await redis.leaseAcquire(key(name), holder, ttlMs)) === 1;
    },
    async release(name, holder) {
      await redis.leaseRelease(key(name), holder);
    },
  };
}
