import { type Etcd3, EtcdLeaseInvalidError, type Lease } from "etcd3";
import type { LeaseStore } from "./lease.js";

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
