-- ARGV: key, holder, ttlMs. Sets the key if free, or extends it when the holder owns it.
-- Returns 1 when the holder has the lease, 0 when another has it.
local current = redis.call('GET', ARGV[1])
if current == false then
  redis.call('SET', ARGV[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if current == ARGV[2] then
  redis.call('PEXPIRE', ARGV[1], ARGV[3])
  return 1
end
return 0
