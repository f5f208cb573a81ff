import { type Etcd3, EtcdLeaseInvalidError, type Lease } from "etcd3";
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

/**
 * Leases shared by every replica on one etcd (key `<prefix>lease/<name>`), each an etcd
 * lease: the key is bound to it and goes when it does. A holder's renewals are the
 * lease's keep-alives, sent by the loop that holds it, so a holder cut off from etcd
 * (a partition) stops renewing, hears an error, and loses the lease within its TTL
 * while another replica takes it over. etcd counts TTLs in whole seconds and raises
 * them to its own minimum (2 s with its default timings).
 */
export function createEtcdLeaseStore({
  client,
  keyPrefix,
}: {
  client: Etcd3;
  keyPrefix: string;
}): LeaseStore {
  const held = new Map<string, { holder: string; lease: Lease }>();
  const key = (name: string) => Buffer.from(`${keyPrefix}lease/${name}`);

  /** Whether `lease` still holds the key (it may have expired and been retaken). */
  async function stillHeld(name: string, holder: string, lease: Lease): Promise<boolean> {
    try {
      await lease.keepaliveOnce();
    } catch (error) {
      if (error instanceof EtcdLeaseInvalidError) return false;
      throw error;
    }
    const { kvs } = await client.kv.range({ key: key(name) });
    const found = kvs[0];
    return found?.value.toString() === holder && found.lease === (await lease.grant());
  }

  return {
    async acquire(name, holder, ttlMs) {
      const mine = held.get(name);
      if (mine?.holder === holder) {
        if (await stillHeld(name, holder, mine.lease)) return true;
        held.delete(name);
        await mine.lease.revoke().catch(() => {});
      }
      const lease = client.lease(Math.max(1, Math.ceil(ttlMs / 1000)), { autoKeepAlive: false });
      const id = await lease.grant();
      const reply = await client.kv.txn({
        compare: [{ key: key(name), target: "Create", result: "Equal", create_revision: 0 }],
        success: [{ request_put: { key: key(name), value: Buffer.from(holder), lease: id } }],
        failure: [],
      });
      if (reply.succeeded) {
        held.set(name, { holder, lease });
        return true;
      }
      await lease.revoke().catch(() => {});
      return false;
    },
    async release(name, holder) {
      const mine = held.get(name);
      if (mine?.holder !== holder) return;
      held.delete(name);
      // Revoking deletes the key with it.
      await mine.lease.revoke();
    },
  };
}
