-- Set affiliations of bare JIDs on a node; 'none' removes one. An outcast loses its
-- subscriptions.
-- KEYS: feeds, node affiliations, node subscriptions, then per JID: its affiliation
--       index, its subscription index bucket; then node subscription options,
--       subscription leases
-- ARGV: node, state channel, notice payload, then per JID: jid, affiliation
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
local k = 4
local options, leases = KEYS[#KEYS - 1], KEYS[#KEYS]
for i = 4, #ARGV, 2 do
  local jid, aff = ARGV[i], ARGV[i + 1]
  if aff == 'none' then
    redis.call('HDEL', KEYS[2], jid)
    redis.call('SREM', KEYS[k], ARGV[1])
  else
    redis.call('HSET', KEYS[2], jid, aff)
    redis.call('SADD', KEYS[k], ARGV[1])
  end
  if aff == 'outcast' then
    local subs = redis.call('HGETALL', KEYS[3])
    for j = 1, #subs, 2 do
      local sub_jid = subs[j + 1]
      local bare = string.gsub(sub_jid, '/.*$', '')
      if bare == jid then
        redis.call('HDEL', KEYS[3], subs[j])
        redis.call('HDEL', KEYS[k + 1], jid .. '\0' .. ARGV[1] .. '\0' .. subs[j])
        redis.call('HDEL', options, subs[j])
        redis.call('ZREM', leases, ARGV[1] .. '\0' .. subs[j])
      end
    end
  end
  k = k + 2
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
