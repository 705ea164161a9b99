--- Lazy iteration over limit/offset pages.
--
-- A page is fetched only when the previous one is used up — or, with `ahead = n` and a loop,
-- up to n pages are fetched in the background while the current one is consumed (prefetch and
-- concurrency). Iteration stops at the server's `count`, at `max_items`, or on an empty page.
--
-- Records inserted while paging shift offsets: a record already yielded in the previous page
-- (same `id`) is skipped. Sequentially, when `count` grows by more than a page between two
-- fetches of a newest-first listing, the offset also skips ahead by the growth.
-- @module acedata.paging

local core = require "acedata.core"
local errors = require "acedata.errors"

local fresh_records = core.fresh   -- (page records, previous page's id set) -> fresh, id set, dups

local paging = {}

--- Makes the iterator.
-- @tparam function fetch `fetch(offset, limit) -> page | nil, err`, page = `{count=n, results={…}}`
-- @tparam table opts `page_size`, `max_items`, `offset` (start), `newest_first` (boolean),
--   `ahead` (pages in flight beyond the current one) and `loop` (an acedata loop, with ahead)
-- @treturn function iterator yielding records; raises the error object on failure
-- @return nil, nil, and a to-be-closed value: closing it (or breaking out of a `for` on 5.4)
--   cancels the requests in flight
function paging.each(fetch, opts)
  local page_size, max_items = opts.page_size, opts.max_items
  local ahead, loop = opts.ahead or 0, opts.loop
  local start = opts.offset or 0
  local offset = start                 -- where the next sequential fetch starts
  local planned                        -- with ahead: the offset of the next page to plan
  local queue = {}                     -- with ahead: tasks of planned pages, in order
  local records, index, n = {}, 1, 0   -- the current page, the next record in it, its size
  local prev_seen                      -- ids of the previous page (a set)
  local count                          -- the server's count at the last page
  local yielded, skipped = 0, 0      -- records yielded, and dropped as already seen
  local finished = max_items == 0

  local function stop()
    finished = true
    records, n = {}, 0
    for i = #queue, 1, -1 do
      loop:cancel(queue[i])
      queue[i] = nil
    end
  end

  local function fail(err)
    stop()
    error(err, 0)
  end

  -- Keeps up to `ahead` planned pages in flight.
  local plan
  function plan()
    while #queue < ahead and planned < count and (not max_items or planned - start < max_items + skipped) do
      local at = planned
      queue[#queue + 1] = loop:spawn(function()
        local page, err = fetch(at, page_size)
        if not page then error(err, 0) end
        return page
      end)
      planned = planned + page_size
    end
  end

  -- The next page: fetched now, or taken from the planned ones. The page waited for leaves the
  -- queue first, so `ahead` more stay on their way meanwhile: concurrency = n really keeps n
  -- requests in flight, and at most 1 + ahead pages are alive (the one consumed, the queue).
  local function next_page()
    if ahead > 0 and count then
      local task = table.remove(queue, 1)
      if not task then return nil end
      plan()
      local ok, page = pcall(loop.join, loop, task)
      if not ok then fail(page) end
      return page
    end
    if count and offset >= count then return nil end
    local page, err = fetch(offset, page_size)
    if not page then fail(err) end
    return page
  end

  local function refill()
    while true do
      local page = next_page()
      local got = page and page.results
      if not got or #got == 0 then stop() return end
      local grown = count and page.count - count or 0
      count = page.count
      if ahead > 0 and not planned then
        planned = offset + #got
        plan()                          -- the next pages start on their way now
      end
      local fresh, seen, dups = fresh_records(got, prev_seen)
      skipped = skipped + dups
      prev_seen = seen
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
    if max_items and yielded >= max_items then stop() return nil end
    if index > n then
      refill()
      if index > n then return nil end
    end
    -- Let the pages in flight progress while the caller works (cheap, and not on every record).
    if loop and #queue > 0 and index % 32 == 0 then loop:poke() end
    local rec = records[index]
    records[index] = nil                -- the caller owns it now; keep the page light
    index = index + 1
    yielded = yielded + 1
    return rec
  end

  local closer = setmetatable({}, { __close = stop, __index = { close = stop } })
  return iter, nil, nil, closer
end

--- Collects every record of an iteration into an array.
-- @tparam function fetch as for `each`
-- @tparam table opts as for `each`
-- @return array of records, or nil and an error
function paging.all(fetch, opts)
  local list = {}
  local iter = paging.each(fetch, opts)
  local ok, err = pcall(function()
    for rec in iter do list[#list + 1] = rec end
  end)
  if not ok then
    if errors.is(err) then return nil, err end
    error(err, 0)                       -- a bug, not a failure of the API: let it show
  end
  return list
end

return paging
