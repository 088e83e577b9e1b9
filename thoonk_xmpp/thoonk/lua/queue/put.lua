-- Put items into a queue: each id is pushed onto feed.ids (LPUSH = back of the line,
-- RPUSH = front: consumers take from the right) and its item stored in feed.items.
-- Queues publish no notice.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.publishes
-- ARGV: name, push command ('LPUSH' or 'RPUSH'), id1, item1, id2, item2, ...
-- Returns the number of items put.
check_feed('list')
check_type(KEYS[3], 'queue')
local push = ARGV[2] == 'RPUSH' and 'RPUSH' or 'LPUSH'
local count = 0
for i = 3, #ARGV, 2 do
  redis.call(push, KEYS[2], ARGV[i])
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  redis.call('INCR', KEYS[5])
  count = count + 1
end
return count
