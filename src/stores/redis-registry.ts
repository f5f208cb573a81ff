import type { Redis } from "ioredis";
import { GatewayError } from "../errors.js";
import type {
  HealthCheck,
  RegistryChangeEvent,
  ServiceRecord,
  ServiceStatus,
} from "../services/model.js";
import { defineScript } from "./redis-script.js";
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
 * Every write is one Lua script, so the hash and its index entries change together. The
 * scripts never decode a registration (metadata nests as deep as a caller likes, beyond
 * what Lua's cjson takes): they read the flat `indexes` list written beside it.
 * Keys are built inside the scripts, which suits a single Redis or a primary with
 * replicas; Redis Cluster would need hash tags on every key.
 */

const luaIndexHelpers = `
local function reindex(command, prefix, id, indexesJson, status)
  for _, name in ipairs(cjson.decode(indexesJson)) do
    redis.call(command, prefix .. 'idx:' .. name, id)
  end
  redis.call(command, prefix .. 'idx:status:' .. status, id)
end
local function setOrDelete(key, field, value)
  if value == '' then redis.call('HDEL', key, field) else redis.call('HSET', key, field, value) end
end
`;

// ARGV: prefix, id, expectedVersion ('' = must not exist), doc, status, lastHeartbeat, owner,
// health, indexes, probe failures in a row. Returns the new revision, or -1 when the
// version did not match. (The failures sit beside the health JSON so the heartbeat
// script can read them without decoding a document a service's answer filled.)
const putLua = `${luaIndexHelpers}
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 'service:' .. id
local current = redis.call('HMGET', key, 'version', 'indexes', 'status')
if (current[1] or '') ~= ARGV[3] then return -1 end
if current[2] then reindex('SREM', prefix, id, current[2], current[3]) end
redis.call('HSET', key, 'doc', ARGV[4], 'status', ARGV[5], 'lastHeartbeat', ARGV[6],
  'indexes', ARGV[9], 'version', (tonumber(current[1]) or 0) + 1)
setOrDelete(key, 'owner', ARGV[7])
setOrDelete(key, 'health', ARGV[8])
redis.call('HSET', key, 'probeFailures', ARGV[10])
reindex('SADD', prefix, id, ARGV[9], ARGV[5])
redis.call('SADD', prefix .. 'idx:all', id)
return redis.call('INCR', prefix .. 'revision')
`;

// ARGV: prefix, id, expectedVersion ('' = any). Returns false when absent, -1 when the
// version did not match, else { revision, doc, status, lastHeartbeat, owner, health }.
const removeLua = `${luaIndexHelpers}
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 'service:' .. id
local f = redis.call('HMGET', key, 'doc', 'status', 'lastHeartbeat', 'owner', 'health',
  'indexes', 'version')
if not f[1] then return false end
if ARGV[3] ~= '' and f[7] ~= ARGV[3] then return -1 end
reindex('SREM', prefix, id, f[6], f[2])
redis.call('DEL', key)
redis.call('SREM', prefix .. 'idx:all', id)
local revision = redis.call('INCR', prefix .. 'revision')
return { revision, f[1], f[2], f[3], f[4] or '', f[5] or '' }
`;

// ARGV: prefix, id, at, reported status ('' = none), caller owner, caller is admin ('1'/'0').
// The status rule is statusAfterHeartbeat() in registry.ts.
const heartbeatLua = `
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 'service:' .. id
local f = redis.call('HMGET', key, 'status', 'owner', 'doc', 'health', 'probeFailures')
if not f[1] then return { 'not_found' } end
if f[2] and f[2] ~= ARGV[5] and ARGV[6] ~= '1' then return { 'forbidden' } end
local previous = f[1]
local status = ARGV[4]
if status == '' then
  local probeFailures = tonumber(f[5]) or 0
  if previous == 'OFFLINE' and probeFailures == 0 then status = 'ONLINE' else status = previous end
end
redis.call('HSET', key, 'lastHeartbeat', ARGV[3], 'status', status)
redis.call('HINCRBY', key, 'version', 1)
local revision = ''
if status ~= previous then
  redis.call('SREM', prefix .. 'idx:status:' .. previous, id)
  redis.call('SADD', prefix .. 'idx:status:' .. status, id)
  revision = tostring(redis.call('INCR', prefix .. 'revision'))
end
return { 'ok', previous, f[3], status, ARGV[3], f[2] or '', f[4] or '', revision }
`;

// ARGV: prefix, number of index keys n, n index keys, then statuses (any of).
// Returns one JSON array of [doc, status, lastHeartbeat, owner, health] per service, built
// here so the client parses one string instead of five replies per service. Only doc and
// health are JSON; status is an enum, lastHeartbeat an ISO timestamp and owner a sha-256
// hex digest, all written by this gateway, so none of them needs escaping.
const findLua = `
local prefix, n = ARGV[1], tonumber(ARGV[2])
local ids
if n == 0 then
  ids = redis.call('SMEMBERS', prefix .. 'idx:all')
elseif n == 1 then
  ids = redis.call('SMEMBERS', prefix .. ARGV[3])
else
  local keys = {}
  for i = 3, n + 2 do keys[#keys + 1] = prefix .. ARGV[i] end
  ids = redis.call('SINTER', unpack(keys))
end
local wanted = nil
if #ARGV > n + 2 then
  wanted = {}
  for i = n + 3, #ARGV do wanted[ARGV[i]] = true end
end
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', prefix .. 'service:' .. id, 'doc', 'status', 'lastHeartbeat', 'owner', 'health')
  if f[1] and f[2] and f[3] and (wanted == nil or wanted[f[2]]) then
    out[#out + 1] = '[' .. f[1] .. ',"' .. f[2] .. '","' .. f[3] .. '",' ..
      (f[4] and ('"' .. f[4] .. '"') or 'null') .. ',' .. (f[5] or 'null') .. ']'
  end
end
return '[' .. table.concat(out, ',') .. ']'
`;

// ARGV: prefix, id, health JSON, expected version ('' = any), probe failures in a row. Returns 1 when saved, 0 when
// the service is gone, -1 when its version did not match.
const saveHealthLua = `
local key = ARGV[1] .. 'service:' .. ARGV[2]
local version = redis.call('HGET', key, 'version')
if not version then return 0 end
if ARGV[4] ~= '' and version ~= ARGV[4] then return -1 end
redis.call('HSET', key, 'health', ARGV[3], 'probeFailures', ARGV[5])
redis.call('HINCRBY', key, 'version', 1)
return 1
`;

type RegistrationDoc = Omit<ServiceRecord, "status" | "lastHeartbeat" | "owner" | "health">;

export type RedisRegistryStoreOptions = { redis: Redis; keyPrefix: string };

export function createRedisRegistryStore({
  redis,
  keyPrefix,
}: RedisRegistryStoreOptions): RegistryStore {
  const scripts = {
    put: defineScript(redis, putLua),
    remove: defineScript(redis, removeLua),
    heartbeat: defineScript(redis, heartbeatLua),
    find: defineScript(redis, findLua),
    saveHealth: defineScript(redis, saveHealthLua),
  };
  const serviceKey = (id: string) => `${keyPrefix}service:${id}`;

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
        const reply = (await scripts.find([
          keyPrefix,
          keys.length,
          ...keys,
          ...(query.statuses ?? []),
        ])) as string;
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
          return record;
        });
      }),

    put: (record, expectedVersion) =>
      guarded(async (): Promise<PutResult> => {
        const { status, lastHeartbeat, owner, health, ...doc } = record;
        const revision = (await scripts.put([
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
        ])) as number;
        return revision < 0 ? { ok: false, reason: "conflict" } : { ok: true, revision };
      }),

    remove: (id, expectedVersion) =>
      guarded(async (): Promise<RemoveResult> => {
        const reply = (await scripts.remove([
          keyPrefix,
          id,
          expectedVersion === undefined ? "" : String(expectedVersion),
        ])) as [number, string, string, string, string, string] | -1 | null;
        if (reply === null) return { ok: false, reason: "not_found" };
        if (reply === -1) return { ok: false, reason: "conflict" };
        const [revision, doc, status, lastHeartbeat, owner, health] = reply;
        return { ok: true, removed: toRecord(doc, status, lastHeartbeat, owner, health), revision };
      }),

    heartbeat: (request: HeartbeatRequest) =>
      guarded(async (): Promise<HeartbeatResult> => {
        const reply = (await scripts.heartbeat([
          keyPrefix,
          request.id,
          request.at,
          request.status ?? "",
          request.callerOwner ?? "",
          request.callerIsAdmin ? "1" : "0",
        ])) as string[];
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
        const reply = await scripts.saveHealth([
          keyPrefix,
          check.serviceId,
          JSON.stringify(check),
          expectedVersion === undefined ? "" : String(expectedVersion),
          check.consecutiveFailures,
        ]);
        return reply === 1 ? "saved" : reply === 0 ? "missing" : "conflict";
      }),

    nextCounter: (name) => guarded(() => redis.incr(`${keyPrefix}counter:${name}`)),

    revision: () => guarded(async () => Number((await redis.get(`${keyPrefix}revision`)) ?? 0)),

    isRestored: () => guarded(async () => (await redis.exists(`${keyPrefix}restored`)) === 1),

    markRestored: async () => {
      await guarded(() => redis.set(`${keyPrefix}restored`, new Date().toISOString()));
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
          events: events.map((event) => JSON.parse(event) as RegistryChangeEvent),
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
  return record;
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
