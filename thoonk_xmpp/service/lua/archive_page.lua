-- Read one page of a plain feed's archive (XEP-0313 on a node), atomically; no writes.
-- KEYS: feed.ids, feed.items
-- ARGV: start, end (epoch ms, inclusive; '' for none),
--       after-id, before-id (the query form's exclusive bounds; '' for none),
--       paging: 'first', 'index', 'after' or 'before', then its value (an index, an id,
--       or '' for 'before': the last page), the most items on the page (>= 0),
--       then the ids asked for (the form's 'ids'; none given: every item)
-- The result set is the items matching every filter, in feed order (publication order).
-- Scores are epoch ms (ours, thoonk.js) or epoch seconds (thoonk.py, below SECONDS): the
-- time filters read both, so the set is at most two runs of ranks, seconds first.
-- An id (form or paging) that is not in the feed raises THOONK ItemNotFound <id>.
-- Returns {count of the result set, position of the page's first item in it (-1: empty
-- page), id1, score1, item1, id2, ...} with the page's items in feed order.
local ids_key, items_key = KEYS[1], KEYS[2]
local have = redis.call('TYPE', ids_key)['ok']
if have ~= 'zset' and have ~= 'none' then raise('WrongType', have) end
local SECONDS = 100000000000
local start_ms, end_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local after_id, before_id = ARGV[3], ARGV[4]
local mode, value, max = ARGV[5], ARGV[6], tonumber(ARGV[7])

local function rank_of(id)
  local rank = redis.call('ZRANK', ids_key, id)
  if not rank then raise('ItemNotFound', id) end
  return rank
end

-- How many members score below `bound` ('(x' exclusive) : the rank where a score run starts.
local function below(bound)
  return redis.call('ZCOUNT', ids_key, '-inf', bound)
end

local function seconds(ms)
  return string.format('%.3f', ms / 1000)
end

-- The result set as runs {first rank, rank after the last}, in rank order.
local runs = {}
if not start_ms and not end_ms then
  runs[1] = {0, redis.call('ZCARD', ids_key)}
else
  local s_low = start_ms and ('(' .. seconds(start_ms)) or nil
  local s_high = end_ms and seconds(math.min(end_ms, SECONDS * 1000 - 1))
    or string.format('(%d', SECONDS)
  local ms_low = '(' .. string.format('%d', math.max(start_ms or 0, SECONDS))
  local ms_high = end_ms and string.format('%d', end_ms) or '+inf'
  runs[1] = {s_low and below(s_low) or 0, below(s_high)}
  runs[2] = {below(ms_low), below(ms_high)}
end

local function clip(low, high)
  local kept = {}
  for _, run in ipairs(runs) do
    local a, b = math.max(run[1], low), math.min(run[2], high)
    if a < b then kept[#kept + 1] = {a, b} end
  end
  runs = kept
end

local huge = math.huge
clip(0, huge)  -- drops a time run left empty
if after_id ~= '' then clip(rank_of(after_id) + 1, huge) end
if before_id ~= '' then clip(0, rank_of(before_id)) end
if #ARGV > 7 then
  local asked, seen = {}, {}
  for i = 8, #ARGV do
    local rank = rank_of(ARGV[i])
    if not seen[rank] then
      seen[rank] = true
      asked[#asked + 1] = rank
    end
  end
  table.sort(asked)
  local kept = {}
  for _, rank in ipairs(asked) do
    for _, run in ipairs(runs) do
      if rank >= run[1] and rank < run[2] then kept[#kept + 1] = {rank, rank + 1} end
    end
  end
  runs = kept
end

local count = 0
for _, run in ipairs(runs) do count = count + run[2] - run[1] end

-- Members of the result set ranked below `rank`.
local function position(rank)
  local found = 0
  for _, run in ipairs(runs) do
    found = found + math.max(0, math.min(rank, run[2]) - run[1])
  end
  return found
end

local first, stop
if mode == 'before' then
  stop = count
  if value ~= '' then stop = position(rank_of(value)) end
  first = math.max(0, stop - max)
else
  first = 0
  if mode == 'index' then first = math.min(tonumber(value), count) end
  if mode == 'after' then first = position(rank_of(value) + 1) end
  stop = math.min(first + max, count)
end

local out = {count, -1}
if first >= stop then return out end
out[2] = first
local ids, scores = {}, {}
local seen_before = 0
for _, run in ipairs(runs) do
  local length = run[2] - run[1]
  local a = math.max(first, seen_before)
  local b = math.min(stop, seen_before + length)
  if a < b then
    local found = redis.call('ZRANGE', ids_key, run[1] + a - seen_before,
                             run[1] + b - seen_before - 1, 'WITHSCORES')
    for i = 1, #found, 2 do
      ids[#ids + 1] = found[i]
      scores[#scores + 1] = found[i + 1]
    end
  end
  seen_before = seen_before + length
end
if #ids == 0 then return out end
local items = redis.call('HMGET', items_key, unpack(ids))
for i, id in ipairs(ids) do
  if items[i] then
    out[#out + 1] = id
    out[#out + 1] = scores[i]
    out[#out + 1] = items[i]
  end
end
return out
