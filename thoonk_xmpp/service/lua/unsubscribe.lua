-- Remove subscriptions of a node by subid (each must belong to the JID given with it),
-- with their options and leases.
-- KEYS: node subscriptions, node subscription options, subscription leases,
--       then one subscription index bucket per subid
-- ARGV: node, state channel, notice payload, then for each subid: subid, jid, index entry,
--       lease member
for i = 4, #ARGV, 4 do
  if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
    raise('ItemNotFound', ARGV[i])
  end
end
local k = 4
for i = 4, #ARGV, 4 do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i + 3])
  redis.call('HDEL', KEYS[k], ARGV[i + 2])
  k = k + 1
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return (#ARGV - 3) / 4
