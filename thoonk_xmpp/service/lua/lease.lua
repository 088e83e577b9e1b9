-- Renew this instance's heartbeat and lease the slots of nodes it is to deliver.
-- KEYS: live instances (zset id -> expiry ms), then the lease of every slot, slot 0 first
-- ARGV: instance id, lease time in ms, '1' while the instance can deliver (else '0')
-- Slots go to live instances by rendezvous hashing (the highest sha1 of "<id>:<slot>"),
-- so a change of instances moves only the slots it must. An instance renews a lease it
-- holds while the slot is still its own, and takes a free one that is its own. A lease
-- it holds of a slot no longer its own (another instance joined, or this one cannot
-- deliver) is not renewed but kept for the hand-over (hand_over.lua releases it, with
-- what was sent, and the new owner takes it on its next call); it lapses at its expiry
-- if the hand-over never comes. A dead instance's leases expire after the lease time.
-- Returns {the slots this instance holds, the slots it is to hand over}, ascending.
local me, ttl, able = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local now = tonumber(now_ms())
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if able then
  redis.call('ZADD', KEYS[1], now + ttl, me)
else
  redis.call('ZREM', KEYS[1], me)
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
local held, handing = {}, {}
for k = 2, #KEYS do
  local slot = k - 2
  local owner, best = nil, nil
  for _, id in ipairs(live) do
    local score = redis.sha1hex(id .. ':' .. slot)
    if best == nil or score > best then owner, best = id, score end
  end
  local holder = redis.call('GET', KEYS[k])
  if holder == me then
    if owner == me then
      redis.call('PEXPIRE', KEYS[k], ttl)
      held[#held + 1] = slot
    else
      handing[#handing + 1] = slot
    end
  elseif not holder and owner == me then
    redis.call('SET', KEYS[k], me, 'PX', ttl)
    held[#held + 1] = slot
  end
end
return {held, handing}
