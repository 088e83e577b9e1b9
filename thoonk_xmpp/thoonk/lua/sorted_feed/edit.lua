-- Replace the item stored under an existing id; its place in the feed is kept.
-- The notice goes on feed.publish (contract 15.9 / 16.D), with no position notice,
-- which is how receivers tell an edit from an insert.
-- KEYS: feeds, feed.ids, feed.items, feed.publishes
-- ARGV: name, publish channel, id, item
-- Returns 1, or raises ItemNotFound.
check_feed('list')
local id, item = ARGV[3], ARGV[4]
if redis.call('HEXISTS', KEYS[3], id) == 0 then
  raise('ItemNotFound', id)
end
redis.call('HSET', KEYS[3], id, item)
redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[2], id .. '\0' .. item)
return 1
