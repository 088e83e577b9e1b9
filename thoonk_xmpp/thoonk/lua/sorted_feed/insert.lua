-- Insert new items into a sorted feed, each getting the next feed.idincr value as id.
-- mode 'end' appends (RPUSH), 'begin' prepends (LPUSH), 'before'/'after' insert next
-- to the pivot id (LINSERT). Every item is inserted at the same position, one after
-- the other, so several items appended with 'end' keep their order.
-- Notices per item: feed.publish "<id>\0<item>", then feed.position "<id>\0<position>".
-- The pivot must be in feed.ids (LINSERT needs it there); the counter is only
-- incremented once every check has passed, so a refused insert consumes no id.
-- KEYS: feeds, feed.ids, feed.items, feed.publishes, feed.idincr
-- ARGV: name, publish channel, position channel, mode, pivot ('' unless before/after),
--       position text (':end', 'begin:', ':<pivot>', '<pivot>:'), item1, item2, ...
-- Returns the new ids (decimal strings) in argument order.
check_feed('list')
local mode, pivot, position = ARGV[4], ARGV[5], ARGV[6]
local linsert = nil
if mode == 'before' then
  linsert = 'BEFORE'
elseif mode == 'after' then
  linsert = 'AFTER'
end
if linsert and not redis.call('LPOS', KEYS[2], pivot) then
  raise('ItemNotFound', pivot)
end
local sep = '\0'
local result = {}
for i = 7, #ARGV do
  -- %d, not tostring: Lua would print ids from 1e14 on in exponent form.
  local id = string.format('%d', redis.call('INCR', KEYS[5]))
  local item = ARGV[i]
  if linsert then
    redis.call('LINSERT', KEYS[2], linsert, pivot, id)
  elseif mode == 'begin' then
    redis.call('LPUSH', KEYS[2], id)
  else
    redis.call('RPUSH', KEYS[2], id)
  end
  redis.call('HSET', KEYS[3], id, item)
  redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', ARGV[2], id .. sep .. item)
  redis.call('PUBLISH', ARGV[3], id .. sep .. position)
  result[#result + 1] = id
end
return result
