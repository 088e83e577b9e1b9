-- Give back what subscribers hold, as unlocks (a failure counted each, back at the end of
-- the line, the holder remembered): overdue claims of the node's claim timeout (Thoonk reap
-- semantics, job/reap.lua; those of Thoonk workers too), and the holds of given JIDs (a
-- subscriber gone unavailable or unreachable, or no longer subscribed).
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.claimed, feed.cancelled, holders,
--       unlocked
-- ARGV: node, ready channel, '1' to reap overdue claims else '0', then the JIDs whose
--       holds go
-- Returns {id1, holder1, id2, holder2, ...} (holder '' for a Thoonk worker's claim).
check_feed('list')
check_type(KEYS[3], 'job')
local ids, claimed, cancelled, holders, unlocked = KEYS[2], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local out = {}
local function give_back(id, holder)
  redis.call('HINCRBY', cancelled, id, 1)
  redis.call('LPUSH', ids, id)
  redis.call('ZREM', claimed, id)
  if holder ~= '' then
    redis.call('HDEL', holders, id)
    redis.call('HSET', unlocked, id, holder)
  end
  out[#out + 1] = id
  out[#out + 1] = holder
end
local function holder_of(id, score)
  local hold = redis.call('HGET', holders, id)
  if hold then
    local cut = string.find(hold, '\0', 1, true)
    if tonumber(string.sub(hold, 1, cut - 1)) == tonumber(score) then
      return string.sub(hold, cut + 1)
    end
  end
  return ''
end
if ARGV[3] == '1' then
  local ok, configured = pcall(redis.call, 'HGET', KEYS[3], 'timeout')
  local seconds = ok and tonumber(configured) or nil
  if seconds and seconds > 0 then
    local cutoff = tonumber(now_ms()) - math.floor(seconds * 1000)
    local overdue = redis.call('ZRANGEBYSCORE', claimed, '-inf', string.format('(%d', cutoff),
      'WITHSCORES')
    for j = 1, #overdue, 2 do
      give_back(overdue[j], holder_of(overdue[j], overdue[j + 1]))
    end
  end
end
if #ARGV > 3 then
  local gone = {}
  for i = 4, #ARGV do
    gone[ARGV[i]] = true
  end
  local held = redis.call('HGETALL', holders)
  for j = 1, #held, 2 do
    local id = held[j]
    local score = redis.call('ZSCORE', claimed, id)
    if score then
      local holder = holder_of(id, score)
      if gone[holder] then
        give_back(id, holder)
      end
    end
  end
end
if #out > 0 then
  redis.call('PUBLISH', ARGV[2], '')
end
return out
