-- Unlock a held job (XEP-0254 §Unlocking an Item): a Thoonk cancel (job/cancel.lua: a
-- failure counted, back at the end of the line), the hold dropped, the unlocking
-- subscriber remembered (the job goes to another one if another has room), and our notice
-- on thoonkx.ready:<node> so that the dispatcher hands it on.
-- Refusals change nothing: 'item-not-found' (no such job), 'conflict' (claimed by someone
-- else), 'unexpected-request' (nobody holds it).
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.claimed, feed.cancelled, holders,
--       unlocked
-- ARGV: node, ready channel, id, sender full JID, sender bare JID
-- Returns {'unlocked', holder} or {error condition}.
check_feed('list')
check_type(KEYS[3], 'job')
local ids, items, claimed, cancelled, holders, unlocked =
  KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id, full, bare = ARGV[3], ARGV[4], ARGV[5]
if redis.call('HEXISTS', items, id) == 0 then
  return {'item-not-found'}
end
local score = redis.call('ZSCORE', claimed, id)
if not score then
  return {'unexpected-request'}
end
local hold = redis.call('HGET', holders, id)
local holder = nil
if hold then
  local cut = string.find(hold, '\0', 1, true)
  if tonumber(string.sub(hold, 1, cut - 1)) == tonumber(score) then
    holder = string.sub(hold, cut + 1)
  end
end
if holder ~= full and holder ~= bare then
  return {'conflict'}
end
redis.call('HINCRBY', cancelled, id, 1)
redis.call('LPUSH', ids, id)
redis.call('ZREM', claimed, id)
redis.call('HDEL', holders, id)
redis.call('HSET', unlocked, id, holder)
redis.call('PUBLISH', ARGV[2], '')
return {'unlocked', holder}
