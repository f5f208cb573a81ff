-- ARGV: prefix, number of index keys n, n index keys, then statuses (any of).
-- Returns one JSON array of [doc, status, lastHeartbeat, owner, health] per service, built
-- here so the client parses one string instead of five replies per service. Only doc and
-- health are JSON; status is an enum, lastHeartbeat an ISO timestamp and owner a sha-256
-- hex digest, all written by this gateway, so none of them needs escaping.
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
