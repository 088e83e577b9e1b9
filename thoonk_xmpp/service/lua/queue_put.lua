-- Put items into a job or queue node, published over XMPP: exactly what a Thoonk put does
-- (job: onto feed.ids, feed.items, feed.published, the put counter and the put notice
-- "<id>\0<item>" on feed.publishes:<node>; queue: feed.ids, feed.items, the counter), and,
-- in the same step, the publisher JID of each job (told of its result). A queue put has
-- no Thoonk notice: ours, on thoonkx.ready:<node>, wakes the dispatcher instead.
-- Publisher entries are "<put ms>\0<jid>". Two random ones whose job is gone and was put
-- more than an hour ago (finished by a worker that announced no result, retracted by a
-- Thoonk app: no notice will take them) are dropped on the way, so the hash cannot grow
-- for ever; a younger one may still have its finish notice on the way.
-- An id already waiting, held or stalled is refused: a job is put once.
-- KEYS: feeds, feed.ids, feed.config, feed.items, feed.published, feed.publishes, publishers
-- ARGV: node, kind ('job' or 'queue'), put channel (job) or ready channel (queue),
--       publisher JID, id1, item1, id2, item2, ...
-- Returns the number of items put, or {'conflict', id}.
check_feed('list')
local kind = ARGV[2]
check_type(KEYS[3], kind)
local ids, items, published, publishes, publishers = KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
for i = 5, #ARGV, 2 do
  if redis.call('HEXISTS', items, ARGV[i]) == 1 then
    return {'conflict', ARGV[i]}
  end
end
local now = now_ms()
local count = 0
for i = 5, #ARGV, 2 do
  local id, item = ARGV[i], ARGV[i + 1]
  redis.call('LPUSH', ids, id)
  redis.call('HSET', items, id, item)
  redis.call('INCR', publishes)
  if kind == 'job' then
    redis.call('ZADD', published, now, id)
    redis.call('PUBLISH', ARGV[3], id .. '\0' .. item)
    local sample = redis.call('HRANDFIELD', publishers, 2, 'WITHVALUES')
    for j = 1, #sample, 2 do
      local put_ms = tonumber(string.match(sample[j + 1], '^(%d+)'))
      if redis.call('HEXISTS', items, sample[j]) == 0
          and (not put_ms or put_ms < tonumber(now) - 3600000) then
        redis.call('HDEL', publishers, sample[j])
      end
    end
    redis.call('HSET', publishers, id, now .. '\0' .. ARGV[4])
  end
  count = count + 1
end
if kind == 'queue' and count > 0 then
  redis.call('PUBLISH', ARGV[3], '')
end
return count
