import type { Redis, Result } from "ioredis";
import { GatewayError } from "../domain/errors.js";
import {
  type HealthCheck,
  type RegistryChangeEvent,
  type ServiceRecord,
  type ServiceStatus,
  withCurrentFields,
} from "../domain/service.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { luaSource } from "./lua.js";
import {
  type HeartbeatRequest,
  type HeartbeatResult,
  type IndexQuery,
  indexNamesOf,
  type PutResult,
  type RegistryStore,
  type RemoveResult,
  type StoredService,
} from "./registry.js";

/*
 * Layout under the key prefix (default `sig:v1:`):
 *   service:<id>        hash: doc (JSON registration), status, lastHeartbeat, owner, health,
 *                       version, and indexes (JSON list of the index keys below, but status)
 *   idx:all             set of every id
 *   idx:type:<TYPE>, idx:status:<STATUS>, idx:tag:<tag>, idx:cap:<capability>   sets of ids
 *   revision            registry revision counter
 *   restored            set once the store was filled from the durable record
 *   changes             sorted set of recent registry changes (JSON), scored by revision
 *   counter:<name>      round-robin cursors
 * Every write is one Lua script (lua/registry-*.lua), so the hash and its index entries
 * change together. The scripts never decode a registration (metadata nests as deep as a caller likes, beyond
 * what Lua's cjson takes): they read the flat `indexes` list written beside it.
 * Keys are built inside the scripts, which suits a single Redis or a primary with
 * replicas; Redis Cluster would need hash tags on every key.
 */

type Arg = string | number;

// The scripts as ioredis commands. Each file in lua/ says at its top the ARGV it takes
// and what it returns.
declare module "ioredis" {
  interface RedisCommander<Context> {
    registryPut(...args: Arg[]): Result<number, Context>;
    registryRemove(
      ...args: Arg[]
    ): Result<[number, string, string, string, string, string] | -1 | null, Context>;
    registryHeartbeat(...args: Arg[]): Result<string[], Context>;
    registryFind(...args: Arg[]): Result<string, Context>;
    registrySaveHealth(...args: Arg[]): Result<number, Context>;
  }
}

/** A day: far above any probe period, so only an abandoned ring expires. */
const HEALTH_CHECKS_TTL_SECONDS = 86_400;

type RegistrationDoc = Omit<ServiceRecord, "status" | "lastHeartbeat" | "owner" | "health">;

export type RedisRegistryStoreOptions = {
  redis: Redis;
  keyPrefix: string;
  /** Dates the `restored` mark. */
  clock?: Clock;
};

export function createRedisRegistryStore({
  redis,
  keyPrefix,
  clock = systemClock,
}: RedisRegistryStoreOptions): RegistryStore {
  const scripts = {
    registryPut: luaSource("registry-index", "registry-put"),
    registryRemove: luaSource("registry-index", "registry-remove"),
    registryHeartbeat: luaSource("registry-heartbeat"),
    registryFind: luaSource("registry-find"),
    registrySaveHealth: luaSource("registry-save-health"),
  };
  for (const [name, lua] of Object.entries(scripts)) {
    redis.defineCommand(name, { numberOfKeys: 0, lua });
  }
  const serviceKey = (id: string) => `${keyPrefix}service:${id}`;
  const healthChecksKey = (id: string) => `${keyPrefix}health-checks:${id}`;

  return {
    kind: "redis",

    get: (id) =>
      guarded(async (): Promise<StoredService | null> => {
        const [doc, status, lastHeartbeat, owner, health, version] = await redis.hmget(
          serviceKey(id),
          "doc",
          "status",
          "lastHeartbeat",
          "owner",
          "health",
          "version",
        );
        if (!doc || !status || !lastHeartbeat) return null;
        return {
          record: toRecord(doc, status, lastHeartbeat, owner ?? "", health ?? ""),
          version: Number(version),
        };
      }),

    find: (query) =>
      guarded(async () => {
        // "Any of no statuses" matches nothing, as in the memory store.
        if (query.statuses?.length === 0) return [];
        const keys = indexKeysFor(query);
        const reply = await redis.registryFind(
          keyPrefix,
          keys.length,
          ...keys,
          ...(query.statuses ?? []),
        );
        const rows = JSON.parse(reply) as [
          ServiceRecord,
          ServiceStatus,
          string,
          string | null,
          HealthCheck | null,
        ][];
        return rows.map(([record, status, lastHeartbeat, owner, health]) => {
          record.status = status;
          record.lastHeartbeat = lastHeartbeat;
          record.owner = owner;
          record.health = health;
          return withCurrentFields(record);
        });
      }),

    put: (record, expectedVersion) =>
      guarded(async (): Promise<PutResult> => {
        const { status, lastHeartbeat, owner, health, ...doc } = record;
        const revision = await redis.registryPut(
          keyPrefix,
          record.id,
          expectedVersion === null ? "" : String(expectedVersion),
          JSON.stringify(doc satisfies RegistrationDoc),
          status,
          lastHeartbeat,
          owner ?? "",
          health ? JSON.stringify(health) : "",
          JSON.stringify(indexNamesOf(record)),
          health?.consecutiveFailures ?? 0,
        );
        return revision < 0 ? { ok: false, reason: "conflict" } : { ok: true, revision };
      }),

    remove: (id, expectedVersion) =>
      guarded(async (): Promise<RemoveResult> => {
        const reply = await redis.registryRemove(
          keyPrefix,
          id,
          expectedVersion === undefined ? "" : String(expectedVersion),
        );
        if (reply === null) return { ok: false, reason: "not_found" };
        if (reply === -1) return { ok: false, reason: "conflict" };
        // Outside the script: a probe landing between the two leaves a ring of one for a
        // gone id, which the ring's own expiry (appendHealthCheck) removes.
        await redis.del(healthChecksKey(id));
        const [revision, doc, status, lastHeartbeat, owner, health] = reply;
        return { ok: true, removed: toRecord(doc, status, lastHeartbeat, owner, health), revision };
      }),

    heartbeat: (request: HeartbeatRequest) =>
      guarded(async (): Promise<HeartbeatResult> => {
        const reply = await redis.registryHeartbeat(
          keyPrefix,
          request.id,
          request.at,
          request.status ?? "",
          request.callerOwner ?? "",
          request.callerIsAdmin ? "1" : "0",
          request.unownedIsOpen ? "1" : "0",
        );
        if (reply[0] === "not_found") return { outcome: "not_found" };
        if (reply[0] === "forbidden") return { outcome: "forbidden" };
        const [, previous, doc, status, lastHeartbeat, owner, health, revision] = reply as [
          string,
          ServiceStatus,
          string,
          string,
          string,
          string,
          string,
          string,
        ];
        return {
          outcome: "ok",
          previousStatus: previous,
          record: toRecord(doc, status, lastHeartbeat, owner, health),
          revision: revision === "" ? null : Number(revision),
        };
      }),

    saveHealth: (check: HealthCheck, expectedVersion?: number) =>
      guarded(async () => {
        const reply = await redis.registrySaveHealth(
          keyPrefix,
          check.serviceId,
          JSON.stringify(check),
          expectedVersion === undefined ? "" : String(expectedVersion),
          check.consecutiveFailures,
        );
        return reply === 1 ? "saved" : reply === 0 ? "missing" : "conflict";
      }),

    appendHealthCheck: (check, keep) =>
      guarded(async () => {
        const key = healthChecksKey(check.serviceId);
        await redis
          .multi()
          .lpush(key, JSON.stringify(check))
          .ltrim(key, 0, keep - 1)
          // A service probed no more (gone, or probes off) does not keep its ring forever.
          .expire(key, HEALTH_CHECKS_TTL_SECONDS)
          .exec();
      }),

    recentHealthChecks: (id, limit) =>
      guarded(async () => {
        if (limit <= 0) return [];
        const rows = await redis.lrange(healthChecksKey(id), 0, limit - 1);
        return rows.map((json) => JSON.parse(json) as HealthCheck);
      }),

    nextCounter: (name) => guarded(() => redis.incr(`${keyPrefix}counter:${name}`)),

    revision: () => guarded(async () => Number((await redis.get(`${keyPrefix}revision`)) ?? 0)),

    isRestored: () => guarded(async () => (await redis.exists(`${keyPrefix}restored`)) === 1),

    markRestored: async () => {
      await guarded(() => redis.set(`${keyPrefix}restored`, new Date(clock.now()).toISOString()));
    },

    appendChange: (event, keep) =>
      guarded(async () => {
        await redis
          .multi()
          .zadd(`${keyPrefix}changes`, event.revision, JSON.stringify(event))
          .zremrangebyrank(`${keyPrefix}changes`, 0, -(keep + 1))
          .exec();
      }),

    changesSince: (since, limit) =>
      guarded(async () => {
        const key = `${keyPrefix}changes`;
        const [events, oldest] = await Promise.all([
          redis.zrangebyscore(key, `(${since}`, "+inf", "LIMIT", 0, limit),
          redis.zrange(key, 0, 0, "WITHSCORES"),
        ]);
        return {
          events: events.map((json) => {
            const event = JSON.parse(json) as RegistryChangeEvent;
            withCurrentFields(event.service);
            return event;
          }),
          oldestKept: oldest[1] === undefined ? null : Number(oldest[1]),
        };
      }),

    ping: async () => {
      await guarded(() => redis.ping());
    },

    onConnectionChange(listener) {
      // "close" comes as soon as the socket does, before a restarted (empty) Redis can
      // answer anything; "ready" once commands may flow again.
      const lost = () => listener(false);
      const back = () => listener(true);
      redis.on("close", lost);
      redis.on("ready", back);
      return () => {
        redis.off("close", lost);
        redis.off("ready", back);
      };
    },
  };
}

function indexKeysFor(query: IndexQuery): string[] {
  const keys: string[] = [];
  if (query.type !== undefined) keys.push(`idx:type:${query.type}`);
  if (query.capability !== undefined) keys.push(`idx:cap:${query.capability}`);
  for (const tag of query.tags ?? []) keys.push(`idx:tag:${tag}`);
  return keys;
}

function toRecord(
  doc: string,
  status: string,
  lastHeartbeat: string,
  owner: string,
  health: string,
): ServiceRecord {
  // Assigning onto the freshly parsed object, not spreading it into a new one: the
  // spread costs twice the parse itself, on the hottest read path (20+ records a query).
  const record = JSON.parse(doc) as ServiceRecord;
  record.status = status as ServiceStatus;
  record.lastHeartbeat = lastHeartbeat;
  record.owner = owner === "" ? null : owner;
  record.health = health === "" ? null : (JSON.parse(health) as HealthCheck);
  // A doc written by an older gateway lacks the fields added since.
  return withCurrentFields(record);
}

/**
 * Connection failures become SERVICE_UNAVAILABLE, so callers get a clear, retryable error.
 * A reply error (a script or command Redis refused) is a bug: it is rethrown as it is,
 * to be logged and masked like any other.
 */
async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof Error && error.name === "ReplyError") throw error;
    throw new GatewayError(
      "SERVICE_UNAVAILABLE",
      "The registry store (Redis) is unavailable; try again shortly.",
      { dependency: "redis" },
      { cause: error },
    );
  }
}
