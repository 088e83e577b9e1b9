-- Trim a plain feed to its configured max_length now (after the limit was lowered),
-- oldest items first, as publish.lua trims: our trim notice carrying how many retract
-- notices follow (only when there are some), then a retract notice per removed id, so a
-- bridge tells them from explicit retracts. A feed without a positive max_length keeps all.
-- KEYS: feeds, feed.ids, feed.config, feed.items
-- ARGV: name, retract channel, trim channel
-- Returns the removed ids, oldest first.
check_feed('zset')
local ok, max = pcall(redis.call, 'HGET', KEYS[3], 'max_length')
if not ok then
  -- Not a hash: pre-2011-11 thoonk.py kept the config as a JSON string.
  local got, text = pcall(redis.call, 'GET', KEYS[3])
  local decoded, legacy = pcall(cjson.decode, got and text or '')
  max = decoded and type(legacy) == 'table' and legacy['max_length'] or nil
end
max = tonumber(max)
if not max or max < 1 then return {} end
local trimmed = redis.call('ZRANGE', KEYS[2], 0, -math.floor(max) - 1)
if #trimmed > 0 then redis.call('PUBLISH', ARGV[3], tostring(#trimmed)) end
for _, old in ipairs(trimmed) do
  redis.call('ZREM', KEYS[2], old)
  redis.call('HDEL', KEYS[4], old)
  redis.call('PUBLISH', ARGV[2], old)
end
return trimmed
