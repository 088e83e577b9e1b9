-- Delete an object with every key any type may own (contract section 9); announce it.
-- KEYS: feeds, then every key of the object (the last one: the set of stored job results)
-- ARGV: name, delfeed channel, notice payload, job result key prefix (<key>\0)
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  raise('FeedNotFound')
end
local results = KEYS[#KEYS]
for _, job_id in ipairs(redis.call('SMEMBERS', results)) do
  redis.call('DEL', ARGV[4] .. job_id)
end
for i = 2, #KEYS do
  redis.call('DEL', KEYS[i])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
