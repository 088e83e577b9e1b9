-- Remove the items of a plain feed stored (published or last edited) at least its
-- pubsub#item_expire seconds ago, oldest first, each with a retract notice. They are
-- ordinary retract notices, so every bridge instance routes them alike (a retract event
-- when the node's notify_retract is on) and Thoonk listeners get feed.retract.
-- A feed that is gone, is not a plain feed or has no positive pubsub#item_expire leaves
-- the index of expiring nodes instead (the service puts a node back when configured).
-- KEYS: feeds, feed.ids, feed.config, feed.items, the index of expiring nodes (set)
-- ARGV: name, retract channel, most items removed in one call
-- Returns the removed ids, oldest first.
local name = ARGV[1]
local function leave()
  redis.call('SREM', KEYS[5], name)
  return {}
end
if redis.call('SISMEMBER', KEYS[1], name) == 0 then return leave() end
local have = redis.call('TYPE', KEYS[2])['ok']
if have ~= 'zset' and have ~= 'none' then return leave() end
-- Not a hash: pre-2011-11 thoonk.py kept the config as a JSON string (no pubsub options).
local ok, conf = pcall(redis.call, 'HMGET', KEYS[3], 'pubsub#item_expire', 'type')
if not ok or (conf[2] and conf[2] ~= 'feed') then return leave() end
local seconds = tonumber(conf[1])
if not seconds or seconds < 1 then return leave() end
local cutoff = tonumber(now_ms()) - math.floor(seconds) * 1000
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('PUBLISH', ARGV[2], id)
end
return expired
