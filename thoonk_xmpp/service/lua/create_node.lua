-- Create a node: register the Thoonk feed with its config (as registry/create does,
-- with the same newfeed/conffeed notices) and make the creator its owner, atomically.
-- Subscriptions and affiliations left by an earlier node of the same name (deleted
-- while no event router cleaned up) are dropped: the new node starts empty.
-- KEYS: feeds, feed.config:<node>, node affiliations, creator's affiliation index,
--       node subscriptions, node pending subscription requests
-- ARGV: node, newfeed channel, conffeed channel, notice payload, creator JID,
--       field1, value1, ...
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then
  raise('FeedExists')
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[5], KEYS[6])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[5], 'owner')
  redis.call('SADD', KEYS[4], ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[4])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
