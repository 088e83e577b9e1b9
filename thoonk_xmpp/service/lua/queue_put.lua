-- Put items into a job or queue node, published over XMPP: exactly what a Thoonk put does
-- (job: onto feed.ids, feed.items, feed.published, the put counter and the put notice
-- "<id>\0<item>" on feed.publishes:<node>; queue: feed.ids, feed.items, the counter), and,
-- in the same step, the publisher JID of each job (told of its result). A queue put has
-- no Thoonk notice: ours, on thoonkx.ready:<node>, wakes the dispatcher instead.
-- Two random publisher entries whose job is gone (finished by a worker that announced no
-- result, retracted by a Thoonk app) are dropped on the way, so the hash cannot grow for ever.
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
    for _, old in ipairs(redis.call('HRANDFIELD', publishers, 2)) do
      if redis.call('HEXISTS', items, old) == 0 then
        redis.call('HDEL', publishers, old)
      end
    end
    redis.call('HSET', publishers, id, ARGV[4])
  end
  count = count + 1
end
if kind == 'queue' and count > 0 then
  redis.call('PUBLISH', ARGV[3], '')
end
return count
