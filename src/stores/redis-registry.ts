import type { Redis } from "ioredis";
import { GatewayError } from "../errors.js";
import type { HealthCheck, ServiceRecord, ServiceStatus } from "../services/model.js";
import { defineScript } from "./redis-script.js";
import type {
  HeartbeatRequest,
  HeartbeatResult,
  IndexQuery,
  PutResult,
  RegistryStore,
  StoredService,
} from "./registry.js";

/*
 * Layout under the key prefix (default `sig:v1:`):
 *   service:<id>        hash: doc (JSON registration), status, lastHeartbeat, owner, health, version
 *   idx:all             set of every id
 *   idx:type:<TYPE>, idx:status:<STATUS>, idx:tag:<tag>, idx:cap:<capability>   sets of ids
 *   revision            registry revision counter
 *   counter:<name>      round-robin cursors
 * Every write is one Lua script, so the hash and its index entries change together.
 * Keys are built inside the scripts, which suits a single Redis or a primary with
 * replicas; Redis Cluster would need hash tags on every key.
 */

const luaIndexHelpers = `
local function indexKeys(prefix, doc, status)
  local keys = { prefix .. 'idx:type:' .. doc.type, prefix .. 'idx:status:' .. status }
  for _, tag in ipairs(doc.tags) do keys[#keys + 1] = prefix .. 'idx:tag:' .. tag end
  for _, cap in ipairs(doc.capabilities) do keys[#keys + 1] = prefix .. 'idx:cap:' .. cap end
  return keys
end
local function unindex(prefix, id, docJson, status)
  for _, key in ipairs(indexKeys(prefix, cjson.decode(docJson), status)) do
    redis.call('SREM', key, id)
  end
end
local function index(prefix, id, docJson, status)
  for _, key in ipairs(indexKeys(prefix, cjson.decode(docJson), status)) do
    redis.call('SADD', key, id)
  end
end
local function setOrDelete(key, field, value)
  if value == '' then redis.call('HDEL', key, field) else redis.call('HSET', key, field, value) end
end
`;

// ARGV: prefix, id, expectedVersion ('' = must not exist), doc, status, lastHeartbeat, owner, health
const putLua = `${luaIndexHelpers}
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 'service:' .. id
local current = redis.call('HMGET', key, 'version', 'doc', 'status')
if (current[1] or '') ~= ARGV[3] then return -1 end
if current[2] then unindex(prefix, id, current[2], current[3]) end
redis.call('HSET', key, 'doc', ARGV[4], 'status', ARGV[5], 'lastHeartbeat', ARGV[6],
  'version', (tonumber(current[1]) or 0) + 1)
setOrDelete(key, 'owner', ARGV[7])
setOrDelete(key, 'health', ARGV[8])
index(prefix, id, ARGV[4], ARGV[5])
redis.call('SADD', prefix .. 'idx:all', id)
return redis.call('INCR', prefix .. 'revision')
`;

// ARGV: prefix, id. Returns false, or { revision, doc, status, lastHeartbeat, owner, health }.
const removeLua = `${luaIndexHelpers}
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 'service:' .. id
local f = redis.call('HMGET', key, 'doc', 'status', 'lastHeartbeat', 'owner', 'health')
if not f[1] then return false end
unindex(prefix, id, f[1], f[2])
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
local f = redis.call('HMGET', key, 'status', 'owner', 'doc', 'health')
if not f[1] then return { 'not_found' } end
if f[2] and f[2] ~= ARGV[5] and ARGV[6] ~= '1' then return { 'forbidden' } end
local previous = f[1]
local status = ARGV[4]
if status == '' then
  if previous == 'OFFLINE' then status = 'ONLINE' else status = previous end
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
// health are JSON; the other fields are written by this gateway and need no escaping.
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
  if f[1] and (wanted == nil or wanted[f[2]]) then
    out[#out + 1] = '[' .. f[1] .. ',"' .. f[2] .. '","' .. f[3] .. '",' ..
      (f[4] and ('"' .. f[4] .. '"') or 'null') .. ',' .. (f[5] or 'null') .. ']'
  end
end
return '[' .. table.concat(out, ',') .. ']'
`;

// ARGV: prefix, id, health JSON. Returns 1 when saved, 0 when the service is gone.
const saveHealthLua = `
local key = ARGV[1] .. 'service:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'health', ARGV[3])
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
        ])) as number;
        return revision < 0 ? { ok: false, reason: "conflict" } : { ok: true, revision };
      }),

    remove: (id) =>
      guarded(async () => {
        const reply = (await scripts.remove([keyPrefix, id])) as
          | [number, string, string, string, string, string]
          | null;
        if (!reply) return null;
        const [revision, doc, status, lastHeartbeat, owner, health] = reply;
        return { removed: toRecord(doc, status, lastHeartbeat, owner, health), revision };
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

    saveHealth: (check: HealthCheck) =>
      guarded(
        async () =>
          (await scripts.saveHealth([keyPrefix, check.serviceId, JSON.stringify(check)])) === 1,
      ),

    nextCounter: (name) => guarded(() => redis.incr(`${keyPrefix}counter:${name}`)),

    revision: () => guarded(async () => Number((await redis.get(`${keyPrefix}revision`)) ?? 0)),

    ping: async () => {
      await guarded(() => redis.ping());
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

/** Connection failures become SERVICE_UNAVAILABLE instead of a masked internal error. */
async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw new GatewayError(
      "SERVICE_UNAVAILABLE",
      "The registry store (Redis) is unavailable; try again shortly.",
      { dependency: "redis" },
      { cause: error },
    );
  }
}
