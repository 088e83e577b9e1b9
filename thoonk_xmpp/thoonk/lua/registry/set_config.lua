-- Update configuration fields (fields not given are kept); announce the change.
-- KEYS: feeds, feed.config:<name>
-- ARGV: name, conffeed channel, notice payload, then field/value pairs to set,
--       then '--', then fields to delete.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
if redis.call('TYPE', KEYS[2])['ok'] == 'string' then
  -- Config written by pre-2011-11 thoonk.py as a JSON string: replace it by a hash.
  redis.call('DEL', KEYS[2])
end
local i = 4
while i <= #ARGV and ARGV[i] ~= '--' do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for j = i + 1, #ARGV do
  redis.call('HDEL', KEYS[2], ARGV[j])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
