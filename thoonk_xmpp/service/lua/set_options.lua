-- Set the options of one subscription (which must still belong to the JID given).
-- KEYS: node subscriptions, node subscription options, subscription leases
-- ARGV: node, state channel, instance id, subid, jid, options ('' for the defaults),
--       lease member (<node>\0<subid>), epoch ms the subscription ends at ('' for never)
if redis.call('HGET', KEYS[1], ARGV[4]) ~= ARGV[5] then
  raise('ItemNotFound', ARGV[4])
end
if ARGV[6] == '' then
  redis.call('HDEL', KEYS[2], ARGV[4])
else
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[6])
end
if ARGV[8] == '' then
  redis.call('ZREM', KEYS[3], ARGV[7])
else
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[7])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
