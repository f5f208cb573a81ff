-- Helpers for the registry scripts that rewrite a service's index entries
-- (registry-put.lua and registry-remove.lua are each loaded after this file).
local function reindex(command, prefix, id, indexesJson, status)
  for _, name in ipairs(cjson.decode(indexesJson)) do
    redis.call(command, prefix .. 'idx:' .. name, id)
  end
  redis.call(command, prefix .. 'idx:status:' .. status, id)
end
local function setOrDelete(key, field, value)
  if value == '' then redis.call('HDEL', key, field) else redis.call('HSET', key, field, value) end
end
