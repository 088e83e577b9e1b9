-- Retract every item of a plain feed, with one retract notice per item (what
-- original listeners understand). Returns the retracted ids, oldest first.
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel
check_feed('zset')
local gone = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(gone) do
  redis.call('PUBLISH', ARGV[2], id)
end
redis.call('DEL', KEYS[2], KEYS[3])
return gone
