-- Hand a slot over: record what this instance sent of its nodes above the watermark,
-- then release the lease, so the next holder's catch-up sends only what was not sent.
-- KEYS: the slot's lease, the slot's hand-over record
-- ARGV: instance id, the record (JSON; '' for nothing sent), ms the record is kept
-- Nothing is written unless this instance still holds the lease (one that lapsed may
-- already be another's, caught up without the record).
-- Returns 1 if released, 0 if the lease was not this instance's.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[2])
end
redis.call('DEL', KEYS[1])
return 1
