-- Jobs of a node were finished (the notices on job.finish:<node>, or ours on
-- thoonkx.ready:<node> for a finish without a result, from any worker), several in one call:
-- for each, take its XMPP publisher (to be told), forget what we kept beside the job, and
-- keep the result for retrieval if the worker did not (a thoonk.js or thoonk.py worker
-- announces it only): [request, result] as job/finish.lua keeps it, the request no longer
-- known then (empty). Results are kept only for jobs published over XMPP.
-- A job whose id was put again before its finish notice came is another job now: its
-- hold and unlock record stay, and its publisher entry is taken only if it is older than
-- that put (the new put was a Thoonk app's, the entry the finished job's).
-- KEYS: publishers, holders, unlocked, stored results, feed.items, feed.published
-- ARGV: keep ms or '', result key prefix (the key of job <id> is prefix .. id), then per
--       job: id, '1' with a result or '0', result
-- Returns per job, in order, its publisher JID (the entry is "<put ms>\0<jid>") or ''.
local publishers, holders, unlocked, results = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local keep, prefix = ARGV[1], ARGV[2]
local out = {}
if redis.call('EXISTS', publishers, holders, unlocked) == 0 then
  -- nothing of ours beside these jobs (a node only Thoonk apps use): one command, not
  -- three a job
  for _ = 3, #ARGV, 3 do
    out[#out + 1] = ''
  end
  return out
end
for i = 3, #ARGV, 3 do
  local id = ARGV[i]
  local entry = redis.call('HGET', publishers, id)
  local again = redis.call('HEXISTS', KEYS[5], id) == 1
  if entry and again then
    local put_ms = tonumber(string.match(entry, '^(%d+)'))
    local put_again = tonumber(redis.call('ZSCORE', KEYS[6], id))
    if not put_ms or not put_again or put_ms >= put_again then
      entry = nil  -- the new job's
    end
  end
  local publisher = ''
  if entry then
    local cut = string.find(entry, '\0', 1, true)
    publisher = cut and string.sub(entry, cut + 1) or entry
    redis.call('HDEL', publishers, id)
  end
  if not again then
    redis.call('HDEL', holders, id)
    redis.call('HDEL', unlocked, id)
  end
  if publisher ~= '' and ARGV[i + 1] == '1' and redis.call('EXISTS', prefix .. id) == 0 then
    redis.call('RPUSH', prefix .. id, '', ARGV[i + 2])
    if keep ~= '' then
      redis.call('PEXPIRE', prefix .. id, keep)
    end
    redis.call('SADD', results, id)
  end
  out[#out + 1] = publisher
end
return out
