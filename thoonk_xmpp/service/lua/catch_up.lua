-- Read what several nodes stored since their watermark, for catch-up delivery (no writes).
-- KEYS: for each node: feed.config, feed.ids, feed.items, node subscriptions
-- ARGV: newest items per node (the bound), oldest age in ms (the bound), items per call
--       (once passed, the nodes left are not read: the caller asks again for them),
--       then for each node: its watermark in epoch ms
-- Scores are epoch ms (ours, thoonk.js) or epoch seconds (thoonk.py); both are read.
-- Nodes that are not plain feeds or have no subscriptions are skipped.
-- Returns, per node read (in order), {cut, now, id1, ms1, item1, id2, ...}: items oldest first, at most
-- the bound; cut = how many more there were, or -1 when the age bound left some out.
local limit, max_age, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local total = 0
local now = tonumber(now_ms())
local SECONDS = 1e11  -- below: a thoonk.py score in seconds
local out = {}
for n = 0, #KEYS / 4 - 1 do
  if total >= budget then break end
  local config, ids, items, subs = KEYS[4 * n + 1], KEYS[4 * n + 2], KEYS[4 * n + 3], KEYS[4 * n + 4]
  local asked = tonumber(ARGV[n + 4])
  local since = math.max(asked, now - max_age)
  local cut = 0
  local kind = 'feed'
  local ok, have = pcall(redis.call, 'HGET', config, 'type')
  if ok and have then kind = have end
  local found = {}
  if (kind == 'feed') and redis.call('TYPE', ids)['ok'] == 'zset'
      and redis.call('HLEN', subs) > 0 then
    local newer = redis.call('ZREVRANGEBYSCORE', ids, '+inf', '(' .. since, 'WITHSCORES',
                             'LIMIT', 0, limit + 1)
    local older = redis.call('ZREVRANGEBYSCORE', ids, '(' .. SECONDS, '(' .. (since / 1000),
                             'WITHSCORES', 'LIMIT', 0, limit + 1)
    local merged = {}
    for i = 1, #newer, 2 do merged[#merged + 1] = {newer[i], tonumber(newer[i + 1])} end
    for i = 1, #older, 2 do merged[#merged + 1] = {older[i], tonumber(older[i + 1]) * 1000} end
    table.sort(merged, function(a, b) return a[2] < b[2] end)
    if since > asked and (redis.call('ZCOUNT', ids, '(' .. asked, since)
        + redis.call('ZCOUNT', ids, '(' .. (asked / 1000), since / 1000)) > 0 then
      cut = -1  -- items older than the age bound were not sent
    end
    local first = 1
    if #merged > limit then
      cut = redis.call('ZCOUNT', ids, '(' .. since, '+inf')
        + redis.call('ZCOUNT', ids, '(' .. (since / 1000), '(' .. SECONDS) - limit
      first = #merged - limit + 1
    end
    for i = first, #merged do
      local item = redis.call('HGET', items, merged[i][1])
      if item then
        found[#found + 1] = merged[i][1]
        found[#found + 1] = string.format('%d', merged[i][2])
        found[#found + 1] = item
      end
    end
  end
  total = total + #found / 3
  local entry = {cut, now}
  for _, value in ipairs(found) do entry[#entry + 1] = value end
  out[#out + 1] = entry
end
return out
