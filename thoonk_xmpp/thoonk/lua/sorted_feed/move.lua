-- Move an existing item to the first or last place, or next to another item.
-- mode as in insert.lua ('begin', 'end', 'before', 'after'). One notice:
-- feed.position "<id>\0<position>".
-- An id stored in feed.items but missing from feed.ids (left so by thoonk.py's
-- self-relative move) is put back into the list at the requested place.
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, position channel, id, mode, pivot ('' unless before/after), position text
-- Returns 1, or raises ItemNotFound (id or pivot) / InvalidPosition (pivot == id).
check_feed('list')
local id, mode, pivot, position = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('HEXISTS', KEYS[3], id) == 0 then
  raise('ItemNotFound', id)
end
local linsert = nil
if mode == 'before' then
  linsert = 'BEFORE'
elseif mode == 'after' then
  linsert = 'AFTER'
end
if linsert then
  if pivot == id then
    raise('InvalidPosition', position)
  end
  if not redis.call('LPOS', KEYS[2], pivot) then
    raise('ItemNotFound', pivot)
  end
end
redis.call('LREM', KEYS[2], 0, id)
if linsert then
  redis.call('LINSERT', KEYS[2], linsert, pivot, id)
elseif mode == 'begin' then
  redis.call('LPUSH', KEYS[2], id)
else
  redis.call('RPUSH', KEYS[2], id)
end
redis.call('PUBLISH', ARGV[2], id .. '\0' .. position)
return 1
