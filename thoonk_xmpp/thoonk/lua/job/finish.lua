-- Finish a claimed job: forget it everywhere and count it in feed.finishes.
-- With a result: notice "<id>\0<result>" on job.finish:<name>, and (ours, for
-- get_result) the list [request, result] in the result key, kept for keep_ms if given,
-- its id added to the set of stored results. Two random members of that set whose
-- result has expired are removed on the way, so the set does not grow without bound.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.publishes, feed.finishes (the same ten for every
--       job script), then the result key and the set of stored results
-- ARGV: name, finish channel, id, '1' with a result or '0', result, keep_ms or '',
--       result key prefix (the result key of the empty id)
-- Returns 1, or raises NotClaimed.
check_feed('list')
check_type(KEYS[3], 'job')
local items, published, claimed, cancelled, finishes = KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[10]
local result_key, results = KEYS[11], KEYS[12]
local id = ARGV[3]
if not redis.call('ZSCORE', claimed, id) then
  raise('NotClaimed', id)
end
local request = redis.call('HGET', items, id) or ''
redis.call('ZREM', claimed, id)
redis.call('HDEL', cancelled, id)
redis.call('ZREM', published, id)
redis.call('INCR', finishes)
if ARGV[4] == '1' then
  local result = ARGV[5]
  redis.call('PUBLISH', ARGV[2], id .. '\0' .. result)
  for _, old in ipairs(redis.call('SRANDMEMBER', results, 2)) do
    if redis.call('EXISTS', ARGV[7] .. old) == 0 then
      redis.call('SREM', results, old)
    end
  end
  redis.call('DEL', result_key)
  redis.call('RPUSH', result_key, request, result)
  if ARGV[6] ~= '' then
    redis.call('PEXPIRE', result_key, ARGV[6])
  end
  redis.call('SADD', results, id)
end
redis.call('HDEL', items, id)
return 1
