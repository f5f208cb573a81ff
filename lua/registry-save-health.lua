-- ARGV: prefix, id, health JSON, expected version ('' = any), probe failures in a row.
-- Returns 1 when saved, 0 when the service is gone, -1 when its version did not match.
local key = ARGV[1] .. 'service:' .. ARGV[2]
local version = redis.call('HGET', key, 'version')
if not version then return 0 end
if ARGV[4] ~= '' and version ~= ARGV[4] then return -1 end
redis.call('HSET', key, 'health', ARGV[3], 'probeFailures', ARGV[5])
redis.call('HINCRBY', key, 'version', 1)
return 1
