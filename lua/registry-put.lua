-- ARGV: prefix, id, expectedVersion ('' = must not exist), doc, status, lastHeartbeat, owner,
-- health, indexes, probe failures in a row. Returns the new revision, or -1 when the
-- version did not match. (The failures sit beside the health JSON so the heartbeat
-- script can read them without decoding a document a service's answer filled.)
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
