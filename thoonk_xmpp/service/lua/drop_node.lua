-- Forget the subscriptions and affiliations of a deleted node, and its tombstone.
-- KEYS: node subscriptions, node affiliations, tombstone, then the subscription index
--       bucket of each subscription, then the affiliation index of each affiliated JID
-- ARGV: node, state channel, instance id, how many subscription index keys there are,
--       then for each index key the entry to remove (KEYS[i] goes with ARGV[i + 1])
local subscriptions = tonumber(ARGV[4])
for i = 4, #KEYS do
  if i - 3 <= subscriptions then
    redis.call('HDEL', KEYS[i], ARGV[i + 1])
  else
    redis.call('SREM', KEYS[i], ARGV[i + 1])
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
