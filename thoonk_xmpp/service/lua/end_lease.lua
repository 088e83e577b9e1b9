-- End a subscription whose lease (pubsub#expire) is over, once, announcing it on the state
-- notice as an owner's removal (so the subscriber, and the owners of a notify_sub node,
-- hear it from whichever instance delivers the node). A lease whose subscription is gone
-- or changed hands is just dropped.
-- KEYS: node subscriptions, node subscription options, subscription leases,
--       the subscription index bucket of the JID
-- ARGV: node, state channel, state notice payload (the removal), subid, jid, index entry, lease member, epoch ms now
local ends = redis.call('ZSCORE', KEYS[3], ARGV[7])
if not ends or tonumber(ends) > tonumber(ARGV[8]) then
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[7])
if redis.call('HGET', KEYS[1], ARGV[4]) ~= ARGV[5] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[4])
redis.call('HDEL', KEYS[2], ARGV[4])
redis.call('HDEL', KEYS[4], ARGV[6])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
