-- Take a due digest: the events gathered, once (whoever takes it first sends it).
-- KEYS: digests due, the subscription's digest list
-- ARGV: member (<node>\0<subid>), epoch ms now
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then
  return {}
end
redis.call('ZREM', KEYS[1], ARGV[1])
local events = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return events
