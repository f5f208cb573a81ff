import type { Redis } from "ioredis";
import { defineScript } from "./redis-script.js";

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
export function createMemoryLeaseStore(): LeaseStore {
  const holders = new Map<string, { holder: string; until: number }>();
  return {
    async acquire(name, holder, ttlMs) {
      const current = holders.get(name);
      if (current && current.holder !== holder && current.until > Date.now()) return false;
      holders.set(name, { holder, until: Date.now() + ttlMs });
      return true;
    },
    async release(name, holder) {
      if (holders.get(name)?.holder === holder) holders.delete(name);
    },
  };
}

// ARGV: key, holder, ttlMs. Sets the key if free, or extends it when the holder owns it.
const acquireLua = `
local current = redis.call('GET', ARGV[1])
if current == false then
  redis.call('SET', ARGV[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if current == ARGV[2] then
  redis.call('PEXPIRE', ARGV[1], ARGV[3])
  return 1
end
return 0
`;

const releaseLua = `
if redis.call('GET', ARGV[1]) == ARGV[2] then redis.call('DEL', ARGV[1]) end
return 1
`;

/** Leases shared by every replica on one Redis (key `<prefix>lease:<name>`). */
export function createRedisLeaseStore({
  redis,
  keyPrefix,
}: {
  redis: Redis;
  keyPrefix: string;
}): LeaseStore {
  const acquire = defineScript(redis, acquireLua);
  const release = defineScript(redis, releaseLua);
  const key = (name: string) => `${keyPrefix}lease:${name}`;
  return {
    async acquire(name, holder, ttlMs) {
      return (await acquire([key(name), holder, ttlMs])) === 1;
    },
    async release(name, holder) {
      await release([key(name), holder]);
    },
  };
}
