import type { Etcd3 } from "etcd3";
import type { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createEtcdLeaseStore } from "../../src/stores/etcd-lease.js";
import {
  createMemoryLeaseStore,
  createRedisLeaseStore,
  type LeaseStore,
} from "../../src/stores/lease.js";
import { manualClock } from "../helpers/clock.js";
import { deleteEtcdPrefix, etcdIsAvailable, isolatedEtcdPrefix, newEtcd } from "../helpers/etcd.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";
import { eventually } from "../helpers/wait.js";

/** A store, and how the test lets time pass on the clock its leases run out by. */
type LeaseFixture = { leases: LeaseStore; pass(ms: number): Promise<void> };

function leaseContract(name: string, create: () => LeaseFixture) {
  describe(`LeaseStore contract: ${name}`, () => {
    it("gives a lease to one holder at a time, and lets it renew", async () => {
      const { leases } = create();
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(true);
      expect(await leases.acquire("sweeper", "replica-b", 1000)).toBe(false);
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(true);
      expect(await leases.acquire("prober", "replica-b", 1000)).toBe(true);
    });

    it("passes to another holder once it runs out or is released", async () => {
      const { leases, pass } = create();
      expect(await leases.acquire("sweeper", "replica-a", 100)).toBe(true);
      await pass(150);
      expect(await leases.acquire("sweeper", "replica-b", 1000)).toBe(true);
      await leases.release("sweeper", "replica-a");
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(false);
      await leases.release("sweeper", "replica-b");
      expect(await leases.acquire("sweeper", "replica-a", 1000)).toBe(true);
    });
  });
}

leaseContract("memory", () => {
  const clock = manualClock();
  return {
    leases: createMemoryLeaseStore({ clock }),
    pass: async (ms) => clock.advance(ms),
  };
});

describe("memory leases", () => {
  it("hold for exactly their TTL on the clock they are given", async () => {
    const clock = manualClock();
    const leases = createMemoryLeaseStore({ clock });
    expect(await leases.acquire("sweeper", "replica-a", 100)).toBe(true);
    clock.advance(99);
    expect(await leases.acquire("sweeper", "replica-b", 100)).toBe(false);
    clock.advance(1);
    expect(await leases.acquire("sweeper", "replica-b", 100)).toBe(true);
  });
});

const [available, etcdAvailable] = await Promise.all([redisIsAvailable(), etcdIsAvailable()]);
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
    return {
      leases: createRedisLeaseStore({ redis: connection(), keyPrefix }),
      // Redis expires the key (PX) on its own clock: only real time passes there.
      pass: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
  });
});

describe.runIf(etcdAvailable)("etcd leases", () => {
  const client = etcdAvailable ? newEtcd() : undefined;
  const prefixes: string[] = [];
  afterAll(async () => {
    if (!client) return;
    for (const prefix of prefixes) await deleteEtcdPrefix(client, prefix);
    client.close();
  });
  leaseContract("etcd", () => {
    const keyPrefix = isolatedEtcdPrefix();
    prefixes.push(keyPrefix);
    return {
      leases: createEtcdLeaseStore({ client: client as Etcd3, keyPrefix }),
      // etcd expires leases on its own clock, in whole seconds, at least its minimum TTL
      // (2 s with default timings): only real time passes there, until etcd has ended
      // every lease given before (their keys go with them).
      pass: async (ms) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        await eventually(async () =>
          expect(await (client as Etcd3).getAll().prefix(`${keyPrefix}lease/`).keys()).toEqual([]),
        );
      },
    };
  });

  it("loses the lease to another replica when its holder stops renewing (a partition)", async () => {
    const keyPrefix = isolatedEtcdPrefix();
    prefixes.push(keyPrefix);
    // Two replicas, each with its own connection, as two processes would have.
    const other = newEtcd();
    try {
      const a = createEtcdLeaseStore({ client: client as Etcd3, keyPrefix });
      const b = createEtcdLeaseStore({ client: other, keyPrefix });
      expect(await a.acquire("sweeper", "replica-a", 1000)).toBe(true);
      expect(await b.acquire("sweeper", "replica-b", 1000)).toBe(false);
      // Renewed within its TTL, it holds past it.
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(await a.acquire("sweeper", "replica-a", 1000)).toBe(true);
      }
      expect(await b.acquire("sweeper", "replica-b", 1000)).toBe(false);
      // replica-a is cut off and renews no more: etcd ends its lease, and b takes over.
      await eventually(async () =>
        expect(await b.acquire("sweeper", "replica-b", 1000)).toBe(true),
      );
      expect(await a.acquire("sweeper", "replica-a", 1000)).toBe(false);
    } finally {
      other.close();
    }
  }, 20_000);
});
