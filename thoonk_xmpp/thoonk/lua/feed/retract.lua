-- Retract items from a plain feed; every id must be present or nothing changes.
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel, id1, id2, ...
check_feed('zset')
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) == false then
    raise('ItemNotFound', ARGV[i])
  end
end
for i = 3, #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('PUBLISH', ARGV[2], ARGV[i])
end
return #ARGV - 2
