-- Take the next item of a queue: pop its id from the right of feed.ids, read and
-- delete its item, all in one step, so no crash leaves one half done.
-- Never blocks: on an empty queue the caller waits (BLMOVE of the tail onto itself)
-- and runs this again. An id without an item (left by a crashed thoonk.py/js
-- consumer) is dropped on the way.
-- KEYS: feeds, feed.ids, feed.config, feed.items
-- ARGV: name
-- Returns {id, item}, or nil when the queue is empty.
check_feed('list')
check_type(KEYS[3], 'queue')
while true do
  local id = redis.call('RPOP', KEYS[2])
  if not id then
    return false
  end
  local item = redis.call('HGET', KEYS[4], id)
  if item then
    redis.call('HDEL', KEYS[4], id)
    return {id, item}
  end
end
