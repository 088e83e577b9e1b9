-- Put jobs: each id is pushed onto feed.ids (LPUSH = back of the line, RPUSH = front:
-- workers claim from the right), its payload stored in feed.items, its put time (ms)
-- in feed.published. Notice per job, as thoonk.py sends it: "<id>\0<item>" on the
-- channel feed.publishes:<name>.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script)
-- ARGV: name, put channel, push command ('LPUSH' or 'RPUSH'), id1, item1, id2, item2, ...
-- Returns the number of jobs put.
check_feed('list')
check_type(KEYS[3], 'job')
local ids, items, published, publishes = KEYS[2], KEYS[4], KEYS[5], KEYS[9]
local push = ARGV[3] == 'RPUSH' and 'RPUSH' or 'LPUSH'
local now = now_ms()
local count = 0
for i = 4, #ARGV, 2 do
  local id, item = ARGV[i], ARGV[i + 1]
  redis.call(push, ids, id)
  redis.call('INCR', publishes)
  redis.call('HSET', items, id, item)
  redis.call('ZADD', published, now, id)
  redis.call('PUBLISH', ARGV[2], id .. '\0' .. item)
  count = count + 1
end
return count
