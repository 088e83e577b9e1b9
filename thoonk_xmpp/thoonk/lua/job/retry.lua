-- Put a stalled job back at the end of the line, with a new put time (ms).
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script)
-- ARGV: name, id
-- Returns 1, or raises NotStalled.
check_feed('list')
check_type(KEYS[3], 'job')
local ids, published, stalled = KEYS[2], KEYS[5], KEYS[8]
local id = ARGV[2]
if redis.call('SISMEMBER', stalled, id) == 0 then
  raise('NotStalled', id)
end
redis.call('SREM', stalled, id)
redis.call('LPUSH', ids, id)
redis.call('ZADD', published, now_ms(), id)
return 1
