-- Remove items from a sorted feed: their ids from feed.ids, their items from feed.items.
-- Every id must be stored or nothing changes. Notice per item: feed.retract "<id>".
-- With a notify channel, a notice there first carries how many retract notices follow
-- (their retraction is to be announced, as in feed/retract.lua).
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel, notify channel (or ''), id1, id2, ...
-- Returns the number of items removed, or raises ItemNotFound.
check_feed('list')
local distinct, seen = 0, {}
for i = 4, #ARGV do
  if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then
    raise('ItemNotFound', ARGV[i])
  end
  if not seen[ARGV[i]] then
    seen[ARGV[i]] = true
    distinct = distinct + 1
  end
end
if ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[3], tostring(distinct))
end
local removed = 0
for i = 4, #ARGV do
  -- An id given twice is retracted (and announced) once.
  if redis.call('HDEL', KEYS[3], ARGV[i]) == 1 then
    redis.call('LREM', KEYS[2], 0, ARGV[i])
    redis.call('PUBLISH', ARGV[2], ARGV[i])
    removed = removed + 1
  end
end
return removed
