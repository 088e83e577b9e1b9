-- Forget the subscriptions (with their options and leases), pending subscription requests
-- and affiliations of a deleted node, and its tombstone.
-- KEYS: node subscriptions, node affiliations, tombstone, node subscription options,
--       subscription leases, node pending subscription requests, then the subscription
--       index bucket of each subscription (or pending request), then the affiliation index
--       of each affiliated JID
-- ARGV: node, state channel, instance id, how many subscription index keys there are,
--       then for each index key the entry to remove (KEYS[i] goes with ARGV[i - 2]),
--       then the lease member of each subscription
local subscriptions = tonumber(ARGV[4])
for i = 7, #KEYS do
  if i - 6 <= subscriptions then
    redis.call('HDEL', KEYS[i], ARGV[i - 2])
  else
    redis.call('SREM', KEYS[i], ARGV[i - 2])
  end
end
for i = #KEYS - 1, #ARGV do
  redis.call('ZREM', KEYS[5], ARGV[i])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
