-- Retract items from a plain feed; every id must be present or nothing changes.
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel, id1, id2, ...
-- Returns the number of items removed.
check_feed('zset')
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) == false then
    raise('ItemNotFound', ARGV[i])
  end
end
local removed = 0
for i = 3, #ARGV do
  -- An id given twice is retracted (and announced) once.
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('PUBLISH', ARGV[2], ARGV[i])
    removed = removed + 1
  end
end
return removed
