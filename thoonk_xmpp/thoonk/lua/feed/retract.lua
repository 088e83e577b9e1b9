-- Retract items from a plain feed; every id must be present or nothing changes.
-- KEYS: feeds, feed.ids, feed.items
-- ARGV: name, retract channel, notify channel (or ''), id1, id2, ...
-- With a notify channel, a notice there carrying the number of retract notices that
-- follow says their retraction is to be announced (it travels with them to every listener).
-- Returns the number of items removed.
check_feed('zset')
local distinct, seen = 0, {}
for i = 4, #ARGV do
  if redis.call('ZSCORE', KEYS[2], ARGV[i]) == false then
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
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('PUBLISH', ARGV[2], ARGV[i])
    removed = removed + 1
  end
end
return removed
