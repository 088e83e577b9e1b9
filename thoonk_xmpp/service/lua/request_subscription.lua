-- Ask to subscribe a JID to a node whose owners approve subscriptions: the request waits
-- beside the subscriptions (it gets no events) and is announced to whoever routes the node.
-- A JID with a request waiting already adds none (returns 0).
-- KEYS: feeds, node pending requests, the bucket of the subscription index holding the JID
-- ARGV: node, state channel, notice payload, subid, jid, index entry (<bare jid>\0<node>\0<subid>)
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
local waiting = redis.call('HVALS', KEYS[2])
for i = 1, #waiting do
  if waiting[i] == ARGV[5] then
    return 0
  end
end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[6], '')
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
