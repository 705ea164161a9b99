--- Lazy iteration over limit/offset pages.
--
-- A page is fetched only when the previous one is used up. Iteration stops at the server's
-- `count`, at `max_items`, or on an empty page. Records inserted while paging shift offsets:
-- records already yielded (same `id`) are skipped, and when `count` grows by more than a page
-- between two fetches of a newest-first listing, the offset skips ahead by the growth.
-- @module acedata.paging

local errors = require "acedata.errors"

local paging = {}

--- Makes the iterator.
-- @tparam function fetch `fetch(offset, limit) -> page | nil, err` where page is
--   `{ count = n, results = {…} }`
-- @tparam table opts `{ page_size = n, max_items = n|nil, offset = n, newest_first = bool }`
-- @treturn function iterator yielding records; raises the error object on failure
-- @return nil, nil, and a to-be-closed value (for `for … in` on Lua 5.4)
function paging.each(fetch, opts)
  local page_size, max_items = opts.page_size, opts.max_items
  local offset = opts.offset or 0
  local records, index, n = {}, 1, 0   -- the current page, the next record in it, its size
  local seen, prev_seen = {}, {}       -- ids of the current and the previous page
  local count                          -- the server's count at the last fetch
  local yielded = 0
  local finished = max_items == 0

  local function refill()
    while true do
      if count and offset >= count then finished = true return end
      local page, err = fetch(offset, page_size)
      if not page then
        finished = true
        error(err, 0)
      end
      local got = page.results
      if #got == 0 then finished = true return end
      -- Newest-first listings get new records at the head: a growth of `count` by more than
      -- what we just received means this whole page was already seen.
      local grown = count and page.count - count or 0
      count = page.count
      prev_seen, seen = seen, {}
      local fresh = {}
      for i = 1, #got do
        local rec = got[i]
        local id = type(rec) == "table" and rec.id or nil
        if id == nil or not (prev_seen[id] or seen[id]) then
          fresh[#fresh + 1] = rec
        end
        if id ~= nil then seen[id] = true end
      end
      offset = offset + #got
      if opts.newest_first and grown > #got then offset = offset + (grown - #got) end
      if #fresh > 0 then
        records, index, n = fresh, 1, #fresh
        return
      end
    end
  end

  local function iter()
    if finished then return nil end
    if max_items and yielded >= max_items then finished = true return nil end
    if index > n then
      refill()
      if index > n then return nil end
    end
    local rec = records[index]
    records[index] = nil                -- the caller owns it now; keep the page light
    index = index + 1
    yielded = yielded + 1
    return rec
  end

  local closer = setmetatable({}, { __close = function() finished = true records, n = {}, 0 end })
  return iter, nil, nil, closer
end

--- Collects every record of an iteration into an array.
-- @tparam function fetch as for `each`
-- @tparam table opts as for `each`
-- @return array of records, or nil and an error
function paging.all(fetch, opts)
  local list = {}
  local ok, err = pcall(function()
    for rec in paging.each(fetch, opts) do list[#list + 1] = rec end
  end)
  if not ok then
    if errors.is(err) then return nil, err end
    error(err, 0)                       -- a bug, not a failure of the API: let it show
  end
  return list
end

return paging
