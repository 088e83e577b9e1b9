-- Decide a waiting subscription request: approved, it becomes a subscription (same subid);
-- otherwise it is dropped with its index entry. Only the first decision counts: a request
-- no longer waiting raises ItemNotFound and changes nothing.
-- KEYS: feeds, node pending requests, node subscriptions, the JID's subscription index bucket
-- ARGV: node, state channel, notice payload, subid, jid, '1' (approve) or '0', index entry
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
if redis.call('HGET', KEYS[2], ARGV[4]) ~= ARGV[5] then
  raise('ItemNotFound', ARGV[4])
end
redis.call('HDEL', KEYS[2], ARGV[4])
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
else
  redis.call('HDEL', KEYS[4], ARGV[7])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
