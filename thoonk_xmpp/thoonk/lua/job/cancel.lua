-- Give up a claim: count a failure and put the job back at the end of the line.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script)
-- ARGV: name, id
-- Returns the job's new failure count, or raises NotClaimed.
check_feed('list')
check_type(KEYS[3], 'job')
local ids, claimed, cancelled = KEYS[2], KEYS[6], KEYS[7]
local id = ARGV[2]
if not redis.call('ZSCORE', claimed, id) then
  raise('NotClaimed', id)
end
local failures = redis.call('HINCRBY', cancelled, id, 1)
redis.call('LPUSH', ids, id)
redis.call('ZREM', claimed, id)
return failures
