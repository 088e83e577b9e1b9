-- Delete a job in any state (waiting, claimed, stalled). No notice.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script)
-- ARGV: name, id
-- Returns 1, or raises ItemNotFound.
check_feed('list')
check_type(KEYS[3], 'job')
local ids, items, published, claimed, cancelled, stalled =
  KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id = ARGV[2]
if redis.call('HEXISTS', items, id) == 0 then
  raise('ItemNotFound', id)
end
redis.call('HDEL', items, id)
redis.call('HDEL', cancelled, id)
redis.call('ZREM', published, id)
redis.call('SREM', stalled, id)
redis.call('ZREM', claimed, id)
redis.call('LREM', ids, 0, id)
return 1
