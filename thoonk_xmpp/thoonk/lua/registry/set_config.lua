-- Update configuration fields (fields not given are kept); announce the change.
-- KEYS: feeds, feed.config:<name>
-- ARGV: name, conffeed channel, notice payload, then field/value pairs to set,
--       then '--', then fields to delete.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
if redis.call('TYPE', KEYS[2])['ok'] == 'string' then
  -- Config written by pre-2011-11 thoonk.py as a JSON string: turn it into a hash,
  -- keeping its fields (an unreadable string is dropped).
  local ok, old = pcall(cjson.decode, redis.call('GET', KEYS[2]))
  redis.call('DEL', KEYS[2])
  if ok and type(old) == 'table' then
    for field, value in pairs(old) do
      local kind = type(value)
      if type(field) == 'string' and (kind == 'string' or kind == 'number' or kind == 'boolean') then
        redis.call('HSET', KEYS[2], field, tostring(value))
      end
    end
  end
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
