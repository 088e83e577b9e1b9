-- Forget the subscriptions (with their options and leases) and affiliations of a deleted
-- node, and its tombstone.
-- KEYS: node subscriptions, node affiliations, tombstone, node subscription options,
--       subscription leases, then the subscription index bucket of each subscription,
--       then the affiliation index of each affiliated JID
-- ARGV: node, state channel, instance id, how many subscription index keys there are,
--       then for each index key the entry to remove (KEYS[i] goes with ARGV[i - 1]),
--       then the lease member of each subscription
local subscriptions = tonumber(ARGV[4])
for i = 6, #KEYS do
  if i - 5 <= subscriptions then
    redis.call('HDEL', KEYS[i], ARGV[i - 1])
  else
    redis.call('SREM', KEYS[i], ARGV[i - 1])
  end
end
for i = #KEYS, #ARGV do
  redis.call('ZREM', KEYS[5], ARGV[i])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
