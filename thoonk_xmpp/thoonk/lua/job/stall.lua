-- Take a claimed job out of circulation (feed.stalled) until it is retried.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script)
-- ARGV: name, id
-- Returns 1, or raises NotClaimed.
check_feed('list')
check_type(KEYS[3], 'job')
local published, claimed, cancelled, stalled = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id = ARGV[2]
if not redis.call('ZSCORE', claimed, id) then
  raise('NotClaimed', id)
end
redis.call('ZREM', claimed, id)
redis.call('HDEL', cancelled, id)
redis.call('SADD', stalled, id)
redis.call('ZREM', published, id)
return 1
