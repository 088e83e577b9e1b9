-- Retract an item of a job or queue node (XEP-0254 §Deleting an Item).
-- By the job's holder (the subscriber it was handed to, or any resource of a bare-JID
-- subscriber): a Thoonk finish (job/finish.lua: forgotten everywhere, counted in
-- feed.finishes; with a result the notice "<id>\0<result>" on job.finish:<node> and the
-- kept [request, result] for get_result), the hold dropped; without a result our notice
-- "<id>" on thoonkx.ready:<node> (capacity is free, and the publisher is told).
-- By a publisher or owner who does not hold it: a Thoonk retract (job/retract.lua; for a
-- queue, the waiting item removed), capacity freed if a subscriber held it.
-- Refusals change nothing: 'item-not-found' (no such job), 'conflict' (claimed by someone
-- else), 'unexpected-request' (a subscriber retracting a job nobody holds).
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.claimed,
--       feed.cancelled, feed.stalled, feed.finishes, holders, unlocked, result key,
--       stored results
-- ARGV: node, kind, finish channel, ready channel, id, sender full JID, sender bare JID,
--       '1' if the sender may retract any item (publisher, owner) else '0',
--       '1' with a result or '0', result, keep ms, result key prefix
-- Returns {'finished'} or {'retracted', former holder or ''}, or {error condition}.
check_feed('list')
local kind = ARGV[2]
check_type(KEYS[3], kind)
local ids, items, published, claimed, cancelled, stalled, finishes =
  KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local holders, unlocked, result_key, results = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local id, full, bare, may_retract = ARGV[5], ARGV[6], ARGV[7], ARGV[8] == '1'
if redis.call('HEXISTS', items, id) == 0 then
  return {'item-not-found'}
end
local holder = nil
local score = redis.call('ZSCORE', claimed, id)
local hold = redis.call('HGET', holders, id)
if hold and score then
  local cut = string.find(hold, '\0', 1, true)
  if tonumber(string.sub(hold, 1, cut - 1)) == tonumber(score) then
    holder = string.sub(hold, cut + 1)
  end
end
if kind == 'job' and holder and (holder == full or holder == bare) then
  local request = redis.call('HGET', items, id)
  redis.call('ZREM', claimed, id)
  redis.call('HDEL', cancelled, id)
  redis.call('ZREM', published, id)
  redis.call('INCR', finishes)
  redis.call('HDEL', items, id)
  redis.call('HDEL', holders, id)
  redis.call('HDEL', unlocked, id)
  if ARGV[9] == '1' then
    redis.call('PUBLISH', ARGV[3], id .. '\0' .. ARGV[10])
    for _, old in ipairs(redis.call('SRANDMEMBER', results, 2)) do
      if redis.call('EXISTS', ARGV[12] .. old) == 0 then
        redis.call('SREM', results, old)
      end
    end
    redis.call('DEL', result_key)
    redis.call('RPUSH', result_key, request, ARGV[10])
    if ARGV[11] ~= '' then
      redis.call('PEXPIRE', result_key, ARGV[11])
    end
    redis.call('SADD', results, id)
  else
    redis.call('PUBLISH', ARGV[4], id)
  end
  return {'finished'}
end
if may_retract then
  redis.call('HDEL', items, id)
  redis.call('LREM', ids, 0, id)
  if kind == 'job' then
    redis.call('HDEL', cancelled, id)
    redis.call('ZREM', published, id)
    redis.call('SREM', stalled, id)
    redis.call('ZREM', claimed, id)
    redis.call('HDEL', holders, id)
    redis.call('HDEL', unlocked, id)
    if holder then
      redis.call('PUBLISH', ARGV[4], '')
    end
  end
  return {'retracted', holder or ''}
end
if kind == 'job' and score then
  return {'conflict'}
end
return {'unexpected-request'}
