-- Move one JID's subscription index from its own set (before the index was bucketed) into
-- its bucket.
-- KEYS: the JID's old index set, the bucket of the subscription index holding the JID
-- ARGV: the bare JID
-- Returns how many entries moved.
local members = redis.call('SMEMBERS', KEYS[1])
for _, member in ipairs(members) do
  redis.call('HSET', KEYS[2], ARGV[1] .. '\0' .. member, '')
end
redis.call('DEL', KEYS[1])
return #members
