-- Add a subscription of a JID to a node.
-- KEYS: feeds, node subscriptions, the bucket of the subscription index holding the JID
-- ARGV: node, state channel, instance id, subid, jid, index entry (<bare jid>\0<node>\0<subid>)
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[6], '')
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
