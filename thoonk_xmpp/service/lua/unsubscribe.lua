-- Remove subscriptions of a node by subid (each must belong to the JID given with it).
-- KEYS: node subscriptions, then one subscription index bucket per subid
-- ARGV: node, state channel, instance id, then for each subid: subid, jid, index entry
for i = 4, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
    raise('ItemNotFound', ARGV[i])
  end
end
local k = 2
for i = 4, #ARGV, 3 do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[k], ARGV[i + 2])
  k = k + 1
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return (#ARGV - 3) / 3
