-- Create an object and write its configuration; announce it.
-- KEYS: feeds, feed.config:<name>
-- ARGV: name, newfeed channel, conffeed channel, notice payload (<name>\0<instance>),
--       field1, value1, field2, value2, ...
-- Returns 1, or raises FeedExists.
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then
  raise('FeedExists')
end
redis.call('DEL', KEYS[2])
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call('PUBLISH', ARGV[2], ARGV[4])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
