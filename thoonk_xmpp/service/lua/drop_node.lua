-- Forget the subscriptions and affiliations of a deleted node, and its tombstone.
-- KEYS: node subscriptions, node affiliations, tombstone, then index keys
--       (a subscriber's subscription index or a JID's affiliation index)
-- ARGV: node, state channel, instance id, then for each index key the member to remove
for i = 4, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[i])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
