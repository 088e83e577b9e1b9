-- Add a subscription of a JID to a node, with its options.
-- KEYS: feeds, node subscriptions, the bucket of the subscription index holding the JID,
--       node subscription options, subscription leases
-- ARGV: node, state channel, notice payload, subid, jid, index entry (<bare jid>\0<node>\0<subid>),
--       options ('' for the defaults), lease member (<node>\0<subid>),
--       epoch ms the subscription ends at ('' for never)
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[6], '')
if ARGV[7] == '' then
  redis.call('HDEL', KEYS[4], ARGV[4])
else
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[7])
end
if ARGV[9] == '' then
  redis.call('ZREM', KEYS[5], ARGV[8])
else
  redis.call('ZADD', KEYS[5], ARGV[9], ARGV[8])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
