-- Retract every item of a sorted feed. As for plain feeds (feed/purge.lua): first our
-- purge notice carrying how many retracts follow, then one retract notice per item.
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel, purge channel
-- Returns the retracted ids in feed order.
check_feed('list')
local gone = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('PUBLISH', ARGV[3], tostring(#gone))
for _, id in ipairs(gone) do
  redis.call('PUBLISH', ARGV[2], id)
end
redis.call('DEL', KEYS[2], KEYS[3])
return gone
