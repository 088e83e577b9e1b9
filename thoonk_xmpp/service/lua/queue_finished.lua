-- A job of a node was finished with a result (the notice on job.finish:<node>, from any
-- worker): take its XMPP publisher (to be told), forget what we kept beside the job, and
-- keep the result for retrieval if the worker did not (a thoonk.js or thoonk.py worker
-- announces it only): [request, result] as job/finish.lua keeps it, the request no
-- longer known then (empty). Only for jobs published over XMPP.
-- KEYS: publishers, holders, unlocked, result key, stored results
-- ARGV: id, '1' with a result or '0', result, keep ms or ''
-- Returns the publisher JID (the entry is "<put ms>\0<jid>"), or false when the job had none.
local entry = redis.call('HGET', KEYS[1], ARGV[1])
local publisher = nil
if entry then
  local cut = string.find(entry, '\0', 1, true)
  publisher = cut and string.sub(entry, cut + 1) or entry
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if publisher and ARGV[2] == '1' and redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('RPUSH', KEYS[4], '', ARGV[3])
  if ARGV[4] ~= '' then
    redis.call('PEXPIRE', KEYS[4], ARGV[4])
  end
  redis.call('SADD', KEYS[5], ARGV[1])
end
return publisher or false
