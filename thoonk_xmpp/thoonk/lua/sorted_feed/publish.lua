-- Publish items to a sorted feed by id: an id already stored is edited in place (its
-- place is kept; notice on feed.publish only, contract 15.9); a new id, or none (''),
-- is inserted at the placement, the counter giving ids to items without one.
-- mode 'end' appends, 'begin' puts the first new item first, 'before'/'after' next to
-- the pivot id; every later new item goes just after the previous one, so the new
-- items keep their order. Notices per new item: feed.publish "<id>\0<item>", then
-- feed.position "<id>\0<position>" (its actual place: 'begin:', ':end', ':<pivot>' or
-- '<previous id>:').
-- A given id that is a decimal integer moves the counter up to it, so that no later
-- counter id (ours, thoonk.py's or thoonk.js's) takes it again.
-- The pivot must be in feed.ids; checks come first, so a refused publish changes nothing.
-- KEYS: feeds, feed.ids, feed.items, feed.publishes, feed.idincr
-- ARGV: name, publish channel, position channel, mode, pivot ('' unless before/after),
--       id1 ('' for a counter id), item1, id2, item2, ...
-- Returns the ids in argument order.
check_feed('list')
local mode, pivot = ARGV[4], ARGV[5]
if mode ~= 'end' and mode ~= 'begin' and mode ~= 'before' and mode ~= 'after' then
  raise('InvalidPosition', mode)
end
if (mode == 'before' or mode == 'after') and not redis.call('LPOS', KEYS[2], pivot) then
  raise('ItemNotFound', pivot)
end
local sep = '\0'
local result = {}
local previous = nil
for i = 6, #ARGV, 2 do
  local id, item = ARGV[i], ARGV[i + 1]
  if id ~= '' and redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HSET', KEYS[3], id, item)
    redis.call('INCR', KEYS[4])
    redis.call('PUBLISH', ARGV[2], id .. sep .. item)
  else
    if id == '' then
      -- %d, not tostring: Lua would print ids from 1e14 on in exponent form.
      id = string.format('%d', redis.call('INCR', KEYS[5]))
    elseif string.match(id, '^[1-9][0-9]*$') and #id < 16 then
      local counter = tonumber(redis.call('GET', KEYS[5]) or '0') or 0
      if tonumber(id) > counter then redis.call('SET', KEYS[5], id) end
    end
    local position
    if previous then
      redis.call('LINSERT', KEYS[2], 'AFTER', previous, id)
      position = previous .. ':'
    elseif mode == 'before' then
      redis.call('LINSERT', KEYS[2], 'BEFORE', pivot, id)
      position = ':' .. pivot
    elseif mode == 'after' then
      redis.call('LINSERT', KEYS[2], 'AFTER', pivot, id)
      position = pivot .. ':'
    elseif mode == 'begin' then
      redis.call('LPUSH', KEYS[2], id)
      position = 'begin:'
    else
      redis.call('RPUSH', KEYS[2], id)
      position = ':end'
    end
    if mode ~= 'end' then previous = id end
    redis.call('HSET', KEYS[3], id, item)
    redis.call('INCR', KEYS[4])
    redis.call('PUBLISH', ARGV[2], id .. sep .. item)
    redis.call('PUBLISH', ARGV[3], id .. sep .. position)
  end
  result[#result + 1] = id
end
return result
