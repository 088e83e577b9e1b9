-- Gather one event for a subscription's next digest; the first of a period sets when it
-- is due. At most ARGV[4] events are kept (the oldest go).
-- KEYS: digests due, the subscription's digest list
-- ARGV: member (<node>\0<subid>), epoch ms the digest is due if it is new, the event (JSON),
--       most events kept
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
return 1
