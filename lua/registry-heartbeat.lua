-- ARGV: prefix, id, at, reported status ('' = none), caller owner, caller is admin ('1'/'0'),
-- a service without an owner takes heartbeats from anyone ('1'/'0': open mode or not).
-- The status rule is statusAfterHeartbeat() in src/domain/status.ts; the store contract
-- suite (test/stores/registry-contract.ts) holds this script to it for every input.
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 'service:' .. id
local f = redis.call('HMGET', key, 'status', 'owner', 'doc', 'health', 'probeFailures')
if not f[1] then return { 'not_found' } end
local mayChange = ARGV[6] == '1' or (f[2] and f[2] == ARGV[5]) or (not f[2] and ARGV[7] == '1')
if not mayChange then return { 'forbidden' } end
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
