import { describe, expect, it } from "vitest";
import { createRedisRegistryStore } from "../../src/stores/redis-registry.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";
import { deferred } from "../helpers/wait.js";
import { registryStoreContract, serviceRecord } from "./registry-contract.js";

const available = await redisIsAvailable();

describe.runIf(available)("Redis registry store", () => {
  registryStoreContract("redis", async () => {
    const redis = newRedis();
    const keyPrefix = isolatedPrefix();
    return {
      store: createRedisRegistryStore({ redis, keyPrefix }),
      dispose: async () => {
        await deleteKeys(redis, keyPrefix);
        redis.disconnect();
      },
    };
  });

  it("reads a filtered list in one round trip, whatever the number of services", async () => {
    const redis = newRedis();
    const keyPrefix = isolatedPrefix();
    const store = createRedisRegistryStore({ redis, keyPrefix });
    try {
      for (let i = 0; i < 200; i++) {
        await store.put(serviceRecord({ type: i % 10 === 0 ? "WANTED" : "OTHER" }), null);
      }
      // ioredis sends a script's whole body on the connection's first call (EVAL), then
      // its SHA: the call measured is the second.
      await store.find({ type: "WANTED" });
      const commands: string[] = [];
      // MONITOR shows commands in the order Redis ran them: once it shows this one, sent
      // after find() returned, it has shown every command find() sent.
      const sentinel = `${keyPrefix}after-find`;
      const sentinelSeen = deferred();
      const monitor = await redis.monitor();
      monitor.on("monitor", (_time: string, args: string[]) => {
        if (String(args[0]).toLowerCase() === "get" && args[1] === sentinel) sentinelSeen.resolve();
        else if (args[2] === "0" && String(args[3]).startsWith(keyPrefix))
          commands.push(String(args[0]));
      });
      const found = await store.find({ type: "WANTED", statuses: ["ONLINE"] });
      await redis.get(sentinel);
      await sentinelSeen.promise;
      monitor.disconnect();
      expect(found).toHaveLength(20);
      expect(commands).toEqual(["evalsha"]);
    } finally {
      await deleteKeys(redis, keyPrefix);
      redis.disconnect();
    }
  });

  it("reads a registration written before `graphql` existed as declaring none", async () => {
    const redis = newRedis();
    const keyPrefix = isolatedPrefix();
    const store = createRedisRegistryStore({ redis, keyPrefix });
    try {
      const record = serviceRecord({ graphql: { path: "/graphql", kind: "FEDERATION" } });
      await store.put(record, null);
      // What an older gateway wrote: the same doc without the field.
      const key = `${keyPrefix}service:${record.id}`;
      const { graphql: _, ...older } = JSON.parse((await redis.hget(key, "doc")) as string);
      await redis.hset(key, "doc", JSON.stringify(older));
      expect((await store.get(record.id))?.record.graphql).toBeNull();
      expect((await store.find({}))[0]?.graphql).toBeNull();
    } finally {
      await deleteKeys(redis, keyPrefix);
      redis.disconnect();
    }
  });

  it("reloads its scripts after Redis forgets them (restart or SCRIPT FLUSH)", async () => {
    const redis = newRedis();
    const keyPrefix = isolatedPrefix();
    const store = createRedisRegistryStore({ redis, keyPrefix });
    try {
      await store.put(serviceRecord(), null);
      // Called once before, so the next calls go by SHA and meet NOSCRIPT.
      expect(await store.find({})).toHaveLength(1);
      await redis.script("FLUSH");
      expect(await store.find({})).toHaveLength(1);
      await store.put(serviceRecord(), null);
      expect(await store.find({})).toHaveLength(2);
    } finally {
      await deleteKeys(redis, keyPrefix);
      redis.disconnect();
    }
  });

  it("lets an error Redis replies with through, to be logged as the bug it is", async () => {
    const redis = newRedis();
    const keyPrefix = isolatedPrefix();
    const store = createRedisRegistryStore({ redis, keyPrefix });
    try {
      await redis.set(`${keyPrefix}counter:broken`, "not a number");
      await expect(store.nextCounter("broken")).rejects.toMatchObject({ name: "ReplyError" });
    } finally {
      await deleteKeys(redis, keyPrefix);
      redis.disconnect();
    }
  });

  it("answers SERVICE_UNAVAILABLE, not a crash, when Redis is unreachable", async () => {
    const { Redis } = await import("ioredis");
    const dead = new Redis("redis://127.0.0.1:1", {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on("error", () => {});
    const store = createRedisRegistryStore({ redis: dead, keyPrefix: isolatedPrefix() });
    await expect(store.find({})).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    await expect(store.ping()).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    dead.disconnect();
  });
});
