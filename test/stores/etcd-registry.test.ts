import { describe, expect, it } from "vitest";
import { createEtcdRegistryStore } from "../../src/stores/etcd-registry.js";
import { deleteEtcdPrefix, etcdIsAvailable, isolatedEtcdPrefix, newEtcd } from "../helpers/etcd.js";
import { deferred } from "../helpers/wait.js";
import { registryStoreContract, serviceRecord } from "./registry-contract.js";

const available = await etcdIsAvailable();

describe.runIf(available)("etcd registry store", () => {
  registryStoreContract("etcd", async () => {
    const client = newEtcd();
    const keyPrefix = isolatedEtcdPrefix();
    return {
      store: createEtcdRegistryStore({ client, keyPrefix }),
      dispose: async () => {
        await deleteEtcdPrefix(client, keyPrefix);
        client.close();
      },
    };
  });

  it("writes the service and its index keys in one transaction, under the prefix", async () => {
    const client = newEtcd();
    const keyPrefix = isolatedEtcdPrefix();
    const store = createEtcdRegistryStore({ client, keyPrefix });
    try {
      const record = serviceRecord({ tags: ["team/a"], capabilities: ["plan"] });
      const before = Number((await client.get("x").exec()).header.revision);
      await store.put(record, null);
      const after = Number((await client.get("x").exec()).header.revision);
      // One transaction is one etcd revision, however many keys it wrote.
      expect(after).toBe(before + 1);
      const keys = (await client.getAll().prefix(keyPrefix).keys()).sort();
      expect(keys).toEqual(
        [
          `idx/cap/plan/${record.id}`,
          `idx/status/ONLINE/${record.id}`,
          `idx/tag/team%2Fa/${record.id}`,
          `idx/type/PLANNING_SYSTEM/${record.id}`,
          "revision",
          `service/${record.id}`,
        ].map((path) => keyPrefix + path),
      );
      // A tag holding a slash is its own index, not a folder of another.
      expect(await store.find({ tags: ["team"] })).toEqual([]);
      expect(await store.find({ tags: ["team/a"] })).toHaveLength(1);
    } finally {
      await deleteEtcdPrefix(client, keyPrefix);
      client.close();
    }
  });

  it("writes a registration at the input limits (100 tags, 100 capabilities) in one transaction", async () => {
    // About 200 keys: etcd runs with --max-txn-ops 512 for it (its default is 128).
    const client = newEtcd();
    const keyPrefix = isolatedEtcdPrefix();
    const store = createEtcdRegistryStore({ client, keyPrefix });
    try {
      const many = (kind: string) => Array.from({ length: 100 }, (_, i) => `${kind}-${i}`);
      const record = serviceRecord({ tags: many("tag"), capabilities: many("cap") });
      expect(await store.put(record, null)).toMatchObject({ ok: true });
      const renamed = { ...record, tags: many("other"), capabilities: many("cap2") };
      expect(await store.put(renamed, 1)).toMatchObject({ ok: true });
      expect(await store.find({ tags: ["other-99"], capability: "cap2-0" })).toHaveLength(1);
      expect(await store.find({ tags: ["tag-0"] })).toEqual([]);
    } finally {
      await deleteEtcdPrefix(client, keyPrefix);
      client.close();
    }
  });

  it("says when its data goes (the restored mark deleted with it), so a rebuild starts at once", async () => {
    const client = newEtcd();
    const keyPrefix = isolatedEtcdPrefix();
    const store = createEtcdRegistryStore({ client, keyPrefix });
    const heard: boolean[] = [];
    const connected = deferred();
    const lost = deferred();
    const unsubscribe = store.onConnectionChange?.((up) => {
      heard.push(up);
      if (up) connected.resolve();
      else lost.resolve();
    });
    try {
      await store.markRestored();
      // The watch is up once it reports its connection.
      await connected.promise;
      await client.delete().prefix(keyPrefix);
      await lost.promise;
      expect(heard.slice(-2)).toEqual([false, true]);
      expect(await store.isRestored()).toBe(false);
    } finally {
      unsubscribe?.();
      client.close();
    }
  });

  it("answers SERVICE_UNAVAILABLE, not a crash, when etcd is unreachable", async () => {
    const dead = newEtcd(["http://127.0.0.1:1"]);
    const store = createEtcdRegistryStore({ client: dead, keyPrefix: isolatedEtcdPrefix() });
    await expect(store.find({})).rejects.toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      details: { dependency: "etcd" },
    });
    await expect(store.ping()).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    dead.close();
  });
});
