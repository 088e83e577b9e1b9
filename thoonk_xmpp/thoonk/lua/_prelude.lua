-- Shared helpers, prepended to every script by scripts.py.
-- Convention: KEYS[1] = the `feeds` set, KEYS[2] = feed.ids:<name>, ARGV[1] = feed name.
-- Errors are raised before any write, so a failed script changes nothing.
local function raise(code, arg)
  error({err = 'THOONK ' .. code .. ' ' .. (arg or '')})
end

-- Epoch milliseconds from the Redis server clock, as a decimal string.
local function now_ms()
  local t = redis.call('TIME')
  return t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end

-- The feed must be registered and its id key must hold the Redis type `want`
-- ('zset' for feeds, 'list' for sorted feeds, queues and jobs) or not exist yet.
local function check_feed(want)
  if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
    raise('FeedNotFound')
  end
  local have = redis.call('TYPE', KEYS[2])['ok']
  if have ~= 'none' and have ~= want then
    raise('WrongType', have)
  end
end

-- The config `type` (at config_key) must be `want`. Tolerated: no type, type
-- 'feed' (an old client's config update resets it, contract 15.8) and a config
-- that is not a hash (pre-2011-11 thoonk.py stored a JSON string).
local function check_type(config_key, want)
  local ok, have = pcall(redis.call, 'HGET', config_key, 'type')
  if ok and have and have ~= want and have ~= 'feed' then
    raise('WrongFeedType', want .. ' ' .. have)
  end
end
