-- Requeue jobs claimed longer ago than the claim timeout, with the same moves as a
-- cancel (a failure counted, back at the end of the line). One atomic step, so any
-- number of processes may reap the same feed at once: each overdue claim is requeued once.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script)
-- ARGV: name, timeout in seconds ('' = the config field timeout), limit (-1 = all)
-- Returns the requeued ids, oldest claim first; none when no timeout is set.
check_feed('list')
check_type(KEYS[3], 'job')
local ids, claimed, cancelled = KEYS[2], KEYS[6], KEYS[7]
local timeout = ARGV[2]
if timeout == '' then
  local ok, configured = pcall(redis.call, 'HGET', KEYS[3], 'timeout')
  timeout = ok and configured or nil
end
local seconds = tonumber(timeout)
if not seconds or seconds <= 0 then
  return {}
end
local cutoff = tonumber(now_ms()) - math.floor(seconds * 1000)
local overdue = redis.call('ZRANGEBYSCORE', claimed, '-inf', string.format('(%d', cutoff),
  'LIMIT', 0, ARGV[3])
for _, id in ipairs(overdue) do
  redis.call('HINCRBY', cancelled, id, 1)
  redis.call('LPUSH', ids, id)
  redis.call('ZREM', claimed, id)
end
return overdue
