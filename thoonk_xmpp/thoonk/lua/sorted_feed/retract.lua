-- Remove an item from a sorted feed: its id from feed.ids, its item from feed.items.
-- Notice: feed.retract "<id>".
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel, id
-- Returns 1, or raises ItemNotFound.
check_feed('list')
local id = ARGV[3]
if redis.call('HEXISTS', KEYS[3], id) == 0 then
  raise('ItemNotFound', id)
end
redis.call('LREM', KEYS[2], 0, id)
redis.call('HDEL', KEYS[3], id)
redis.call('PUBLISH', ARGV[2], id)
return 1
