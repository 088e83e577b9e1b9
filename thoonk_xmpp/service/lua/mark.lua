-- Commit how far this instance's slots were delivered, then publish a new delivery mark.
-- KEYS: delivery watermarks (hash slot -> epoch ms)
-- ARGV: mark channel, watermark to commit in epoch ms ('' for none), slot1, slot2, ...
-- A watermark never moves back. The mark carries the Redis time; once it comes back
-- through the instance's notice subscription, every notice published before it has been
-- handed on, so its time (less a margin) may be committed by the next call.
-- Returns the mark's time in epoch ms.
if ARGV[2] ~= '' then
  local mark = tonumber(ARGV[2])
  for i = 3, #ARGV do
    local have = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
    if not have or have < mark then
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[2])
    end
  end
end
local now = now_ms()
redis.call('PUBLISH', ARGV[1], now)
return tonumber(now)
