-- Publish items to a plain feed; an id already present is an edit (re-scored, newest).
-- New ids trim the feed to max_length first (oldest go, each with a retract notice);
-- edits never shrink the feed (contract 15.4). Before a new id's trim retracts comes our
-- trim notice carrying how many retracts follow (only when there are some), so a bridge
-- can tell trims from explicit retracts.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.publishes
-- ARGV: name, publish channel, edit channel, retract channel, trim channel,
--       id1, item1, id2, item2, ...
-- Scores are integer epoch ms, strictly increasing within the feed: a publish in the
-- same millisecond as the newest item gets newest + 1, so feed order is publish order
-- (ties would otherwise sort by id). Only a sustained rate over 1000/s runs ahead of the clock.
-- A feed configured with persist=false stores nothing: it only sends the publish notices.
-- Returns a list with 1 (new) or 0 (edit) per id.
check_feed('zset')
local ok, conf = pcall(redis.call, 'HMGET', KEYS[3], 'max_length', 'persist')
if not ok then
  -- Not a hash: pre-2011-11 thoonk.py kept the config as a JSON string.
  conf = {}
  local got, text = pcall(redis.call, 'GET', KEYS[3])
  local decoded, legacy = pcall(cjson.decode, got and text or '')
  if decoded and type(legacy) == 'table' then
    conf = {legacy['max_length'], tostring(legacy['persist'])}
  end
end
local max = tonumber(conf[1])
-- Only a positive integer bounds the feed; thoonk.js/py may have stored anything.
if max and max >= 1 then max = math.floor(max) else max = nil end
local sep = '\0'
if conf[2] == 'false' then
  local result = {}
  for i = 6, #ARGV, 2 do
    redis.call('INCR', KEYS[5])
    redis.call('PUBLISH', ARGV[2], ARGV[i] .. sep .. ARGV[i + 1])
    result[#result + 1] = 1
  end
  return result
end
local now = tonumber(now_ms())
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2]
if newest and tonumber(newest) >= now then now = tonumber(newest) + 1 end
local result = {}
for i = 6, #ARGV, 2 do
  local id, item = ARGV[i], ARGV[i + 1]
  local is_new = redis.call('ZSCORE', KEYS[2], id) == false
  if is_new and max then
    local trimmed = redis.call('ZRANGE', KEYS[2], 0, -max)
    if #trimmed > 0 then redis.call('PUBLISH', ARGV[5], tostring(#trimmed)) end
    for _, old in ipairs(trimmed) do
      redis.call('ZREM', KEYS[2], old)
      redis.call('HDEL', KEYS[4], old)
      redis.call('PUBLISH', ARGV[4], old)
    end
  end
  redis.call('ZADD', KEYS[2], string.format('%d', now), id)
  now = now + 1
  redis.call('INCR', KEYS[5])
  redis.call('HSET', KEYS[4], id, item)
  if is_new then
    redis.call('PUBLISH', ARGV[2], id .. sep .. item)
    result[#result + 1] = 1
  else
    redis.call('PUBLISH', ARGV[3], id .. sep .. item)
    result[#result + 1] = 0
  end
end
return result
