-- Retract every item of a plain feed. Original listeners get one retract notice per
-- item; first comes our purge notice carrying how many retracts follow, so a bridge
-- can report one purge instead of N retracts. Returns the retracted ids, oldest first.
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel, purge channel
check_feed('zset')
local gone = redis.call('ZRANGE', KEYS[2], 0, -1)
redis.call('PUBLISH', ARGV[3], tostring(#gone))
for _, id in ipairs(gone) do
  redis.call('PUBLISH', ARGV[2], id)
end
redis.call('DEL', KEYS[2], KEYS[3])
return gone
