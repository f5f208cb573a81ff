import type { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import {
  createMemoryLeaseStore,
  createRedisLeaseStore,
  type LeaseStore,
} from "../../src/stores/lease.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";

function leaseContract(name: string, create: () => LeaseStore) {
  describe(`LeaseStore contract: ${name}`, () => {
    it("gives a lease to one holder at a time, and lets it renew", async () => {
      const leases = create();
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(true);
      expect(await leases.acquire("sweeper", "replica-b", 1000)).toBe(false);
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(true);
      expect(await leases.acquire("prober", "replica-b", 1000)).toBe(true);
    });

    it("passes to another holder once it runs out or is released", async () => {
      const leases = create();
      expect(await leases.acquire("sweeper", "replica-a", 100)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await leases.acquire("sweeper", "replica-b", 1000)).toBe(true);
      await leases.release("sweeper", "replica-a");
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(false);
      await leases.release("sweeper", "replica-b");
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(true);
    });
  });
}

leaseContract("memory", createMemoryLeaseStore);

const available = await redisIsAvailable();
describe.runIf(available)("Redis leases", () => {
  // Connected on first use, so a machine without Redis opens no connection at all.
  let redis: Redis | undefined;
  const connection = () => {
    redis ??= newRedis();
    return redis;
  };
  const prefixes: string[] = [];
  afterAll(async () => {
    if (!redis) return;
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
  });
  leaseContract("redis", () => {
    const keyPrefix = isolatedPrefix();
    prefixes.push(keyPrefix);
    return createRedisLeaseStore({ redis: connection(), keyPrefix });
  });
});
