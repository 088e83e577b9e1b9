-- Claim the next job: pop its id from the right of feed.ids and record the claim time
-- (ms) in feed.claimed in the same step, so at every instant a job is either waiting
-- or claimed, whatever happens to the worker. Never blocks: on an empty list the caller
-- waits (BLMOVE of the tail onto itself) and runs this again.
-- Stale ids are dropped on the way: one with no payload (finished or retracted) and a
-- second copy of one already claimed or stalled (thoonk.py/js retry re-queue ids that
-- were not stalled). Notice: "<id>" on the channel feed.claimed:<name> (thoonk.py).
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script)
-- ARGV: name, claim channel
-- Returns {id, item, failures}, or nil when no job is waiting.
check_feed('list')
check_type(KEYS[3], 'job')
local ids, items, claimed, cancelled, stalled = KEYS[2], KEYS[4], KEYS[6], KEYS[7], KEYS[8]
while true do
  local id = redis.call('RPOP', ids)
  if not id then
    return false
  end
  local item = redis.call('HGET', items, id)
  if item and not redis.call('ZSCORE', claimed, id)
      and redis.call('SISMEMBER', stalled, id) == 0 then
    redis.call('ZADD', claimed, now_ms(), id)
    local failures = tonumber(redis.call('HGET', cancelled, id)) or 0
    redis.call('PUBLISH', ARGV[2], id)
    return {id, item, failures}
  end
end
