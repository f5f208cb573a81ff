-- ARGV: key, nowMs, intervalMs, burst. One request of a GCRA rate limit: the key holds the
-- theoretical arrival time (TAT), the moment the caller's allowance is whole again.
-- Returns 0 when the request is allowed (and counts it), else the milliseconds until one is.
local now = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local stored = tonumber(redis.call('GET', ARGV[1]) or '0')
local tat = math.max(stored, now)
local wait = tat - now - interval * (burst - 1)
if wait > 0 then
  return math.ceil(wait)
end
local next_tat = tat + interval
redis.call('SET', ARGV[1], next_tat, 'PX', math.max(1, math.ceil(next_tat - now)))
return 0
