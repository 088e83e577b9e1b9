-- Hand the next waiting items of a job or queue node to subscribers, each to ONE of them.
-- A job is claimed exactly as a Thoonk worker's claim does it (job/claim.lua: popped from
-- the right of feed.ids, stale ids dropped, feed.claimed scored with the claim time, the
-- claim notice on feed.claimed:<node>), so Thoonk workers and XMPP subscribers compete over
-- one list and each job is claimed once; its holder is recorded beside it
-- ("<claim ms>\0<jid>"). A queue item is taken as a Thoonk queue get takes it (gone).
-- Each item goes to the subscriber with the most free capacity (its queue_requests less the
-- jobs it holds, counted here), ties taken in turns; not to the one that last gave that
-- job back while another has room. Holds whose claim ended otherwise (a Thoonk reaper, a
-- retract) are dropped, and so are the holds of JIDs no longer subscribed (given back,
-- a failure counted, as an unlock).
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.claimed, feed.cancelled,
--       feed.stalled, holders, unlocked, turn counter
-- ARGV: node, kind ('job' or 'queue'), claim channel, ready channel (announces holds given
--       back), most items to hand, then per subscriber: jid, queue_requests
-- Returns {id1, item1, jid1, failures1, id2, ...} in the order handed.
check_feed('list')
local kind = ARGV[2]
check_type(KEYS[3], kind)
local ids, items, claimed, cancelled, stalled = KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local holders, unlocked, turn_key = KEYS[8], KEYS[9], KEYS[10]
local jids, free, slot = {}, {}, {}
for i = 6, #ARGV, 2 do
  jids[#jids + 1] = ARGV[i]
  free[#free + 1] = tonumber(ARGV[i + 1])
  slot[ARGV[i]] = #jids
end
local n = #jids
local released = 0
if kind == 'job' then
  local held = redis.call('HGETALL', holders)
  for j = 1, #held, 2 do
    local id, value = held[j], held[j + 1]
    local cut = string.find(value, '\0', 1, true)
    local since, jid = string.sub(value, 1, cut - 1), string.sub(value, cut + 1)
    local score = redis.call('ZSCORE', claimed, id)
    if not score or tonumber(score) ~= tonumber(since) then
      redis.call('HDEL', holders, id)
    elseif slot[jid] then
      free[slot[jid]] = free[slot[jid]] - 1
    else
      redis.call('HINCRBY', cancelled, id, 1)
      redis.call('LPUSH', ids, id)
      redis.call('ZREM', claimed, id)
      redis.call('HDEL', holders, id)
      redis.call('HSET', unlocked, id, jid)
      released = released + 1
    end
  end
end
if released > 0 then
  redis.call('PUBLISH', ARGV[4], '')
end
if n == 0 then
  return {}
end
local function best(offset, except)
  local chosen = nil
  for k = 0, n - 1 do
    local i = (offset + k) % n + 1
    if free[i] > 0 and i ~= except and (not chosen or free[i] > free[chosen]) then
      chosen = i
    end
  end
  return chosen
end
local function take()
  while true do
    local id = redis.call('RPOP', ids)
    if not id then
      return nil
    end
    local item = redis.call('HGET', items, id)
    if kind == 'queue' then
      if item then
        redis.call('HDEL', items, id)
        return id, item
      end
    elseif item and not redis.call('ZSCORE', claimed, id)
        and redis.call('SISMEMBER', stalled, id) == 0 then
      return id, item
    end
  end
end
local out = {}
local turn = nil
local limit = tonumber(ARGV[5])
local now = now_ms()
for h = 1, limit do
  if not turn then
    turn = tonumber(redis.call('GET', turn_key) or '0')
  end
  local chosen = best(turn + h, nil)
  if not chosen then break end
  local id, item = take()
  if not id then break end
  local failures = 0
  if kind == 'job' then
    local last = redis.call('HGET', unlocked, id)
    if last then
      if last == jids[chosen] then
        chosen = best(turn + h, chosen) or chosen
      end
      redis.call('HDEL', unlocked, id)
    end
    redis.call('ZADD', claimed, now, id)
    failures = tonumber(redis.call('HGET', cancelled, id)) or 0
    redis.call('PUBLISH', ARGV[3], id)
    redis.call('HSET', holders, id, now .. '\0' .. jids[chosen])
  end
  free[chosen] = free[chosen] - 1
  out[#out + 1] = id
  out[#out + 1] = item
  out[#out + 1] = jids[chosen]
  out[#out + 1] = failures
end
if #out > 0 then
  redis.call('INCRBY', turn_key, #out / 4)
end
return out
