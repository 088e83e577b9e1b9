-- Retract items of a job or queue node (XEP-0254 §Deleting an Item), one or several in one
-- request, all or none: every item is checked first, and the first refused one refuses
-- the whole request before anything is written.
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
--       feed.cancelled, feed.stalled, feed.finishes, holders, unlocked, stored results
-- ARGV: node, kind, finish channel, ready channel, sender full JID, sender bare JID,
--       '1' if the sender may retract any item (publisher, owner) else '0', keep ms,
--       result key prefix (the result key of job <id> is prefix .. id), then per item:
--       id, '1' with a result or '0', result (ids distinct)
-- Returns {'ok', outcome, former holder or '', ...} per item in order (outcome 'finished'
-- or 'retracted'), or {error condition, id} for the first item refused.
check_feed('list')
local kind = ARGV[2]
check_type(KEYS[3], kind)
local ids, items, published, claimed, cancelled, stalled, finishes =
  KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local holders, unlocked, results = KEYS[10], KEYS[11], KEYS[12]
local full, bare, may_retract = ARGV[5], ARGV[6], ARGV[7] == '1'
local keep, prefix = ARGV[8], ARGV[9]

local function holder_of(id)
  local score = redis.call('ZSCORE', claimed, id)
  local hold = redis.call('HGET', holders, id)
  if hold and score then
    local cut = string.find(hold, '\0', 1, true)
    if tonumber(string.sub(hold, 1, cut - 1)) == tonumber(score) then
      return string.sub(hold, cut + 1), score
    end
  end
  return nil, score
end

-- first pass: what each item's retract is, or the first refusal
local plan = {}
local with_results = 0
for i = 10, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('HEXISTS', items, id) == 0 then
    return {'item-not-found', id}
  end
  local holder, score = holder_of(id)
  if kind == 'job' and holder and (holder == full or holder == bare) then
    plan[#plan + 1] = {id, 'finished', holder, ARGV[i + 1] == '1', ARGV[i + 2]}
    if ARGV[i + 1] == '1' then
      with_results = with_results + 1
    end
  elseif may_retract then
    plan[#plan + 1] = {id, 'retracted', holder or ''}
  elseif kind == 'job' and score then
    return {'conflict', id}
  else
    return {'unexpected-request', id}
  end
end

-- second pass: do them all
local out = {'ok'}
local freed = false
local pruned = false
for _, step in ipairs(plan) do
  local id, outcome = step[1], step[2]
  if outcome == 'finished' then
    local request = redis.call('HGET', items, id)
    redis.call('ZREM', claimed, id)
    redis.call('HDEL', cancelled, id)
    redis.call('ZREM', published, id)
    redis.call('INCR', finishes)
    redis.call('HDEL', items, id)
    redis.call('HDEL', holders, id)
    redis.call('HDEL', unlocked, id)
    if step[4] then
      local result = step[5]
      redis.call('PUBLISH', ARGV[3], id .. '\0' .. result)
      if not pruned then  -- results past their expiry leave the index: two looked at a result
        pruned = true
        for _, old in ipairs(redis.call('SRANDMEMBER', results, 2 * with_results)) do
          if redis.call('EXISTS', prefix .. old) == 0 then
            redis.call('SREM', results, old)
          end
        end
      end
      local result_key = prefix .. id
      redis.call('DEL', result_key)
      redis.call('RPUSH', result_key, request, result)
      if keep ~= '' then
        redis.call('PEXPIRE', result_key, keep)
      end
      redis.call('SADD', results, id)
    else
      redis.call('PUBLISH', ARGV[4], id)
    end
  else
    redis.call('HDEL', items, id)
    redis.call('LREM', ids, 0, id)
    if kind == 'job' then
      redis.call('HDEL', cancelled, id)
      redis.call('ZREM', published, id)
      redis.call('SREM', stalled, id)
      redis.call('ZREM', claimed, id)
      redis.call('HDEL', holders, id)
      redis.call('HDEL', unlocked, id)
      if step[3] ~= '' then
        freed = true
      end
    end
  end
  out[#out + 1] = outcome
  out[#out + 1] = step[3]
end
if freed then
  redis.call('PUBLISH', ARGV[4], '')
end
return out
