-- ARGV: prefix, id, expectedVersion ('' = any). Returns false when absent, -1 when the
-- version did not match, else { revision, doc, status, lastHeartbeat, owner, health }.
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
