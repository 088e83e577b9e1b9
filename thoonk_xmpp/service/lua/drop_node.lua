-- Forget the subscriptions and affiliations of a deleted node, and its tombstone.
-- KEYS: node subscriptions, node affiliations, tombstone, then index keys
--       (a subscriber's subscription index or a JID's affiliation index)
-- ARGV: node, then for each index key the member to remove from it
for i = 4, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[i - 2])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
