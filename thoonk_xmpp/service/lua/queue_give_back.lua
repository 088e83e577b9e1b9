-- Give back items the dispatcher could not send (the XMPP link was down), to the front of
-- the line and without counting a failure: as if they had never been handed.
-- A job goes back only while the hold recorded by queue_hand.lua is still its claim.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.claimed, holders
-- ARGV: node, kind ('job' or 'queue'), then the items in the order handed:
--       job: id, hold ("<claim ms>\0<jid>") per item; queue: id, item per item
-- Returns the number of items given back.
check_feed('list')
local kind = ARGV[2]
check_type(KEYS[3], kind)
local ids, items, claimed, holders = KEYS[2], KEYS[4], KEYS[5], KEYS[6]
local count = 0
-- the last handed first, so that the first handed ends at the very front (the right)
for i = #ARGV - 1, 3, -2 do
  local id = ARGV[i]
  if kind == 'queue' then
    redis.call('RPUSH', ids, id)
    redis.call('HSET', items, id, ARGV[i + 1])
    count = count + 1
  elseif redis.call('HGET', holders, id) == ARGV[i + 1] then
    redis.call('ZREM', claimed, id)
    redis.call('HDEL', holders, id)
    redis.call('RPUSH', ids, id)
    count = count + 1
  end
end
return count
