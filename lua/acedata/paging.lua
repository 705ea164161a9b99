--- The paging planner: lazy iteration over limit/offset pages, exact whatever page sizes the
-- server chooses, with 0..n requests ahead of the reader.
--
-- Offsets are planned from what the server returned, never from `page_size` alone. The planner
-- reads records in order from `pos`; a request starting exactly at `pos` is always planned (a
-- missing one is asked for at once), and up to `ahead` more follow it, each `size` records
-- further, `size` being the page size the server has shown so far (a short page that is not the
-- last teaches it; so does a page longer than asked). A page is placed by its offset and sliced:
-- only its records from `pos` on are used; requests that fell behind `pos` are cancelled.
-- Sequential, prefetch and concurrency are the same planner with a different `ahead`.
--
-- Drift (the listing changes while it is read), the same in every mode (docs/paging.md):
--
-- * `-created_at` (newest first, the default): records created meanwhile come first and shift
--   the rest. Each page's `count` tells by how much (count - the first page's count); the planner
--   asks for the shifted offset and places each page where its records were at the first page.
--   Records created after the first page are not yielded.
-- * `created_at` (oldest first): records created meanwhile come last, after the offsets being
--   read, and are not yielded either: the iteration ends at the first page's count.
-- * Any other ordering: a `count` that changes raises a `drift` error (records may land anywhere).
-- * A `count` lower than one seen before (records deleted) raises a `drift` error: records may
--   have moved to offsets already read. (A deletion hidden by as many insertions between two
--   pages cannot be seen by count-based offset paging.)
-- * A record already yielded in the page before (same `id`) is dropped; a page with nothing
--   but such records (a server that ignores `offset`) raises a `paging` error.
-- @module acedata.paging

local core = require "acedata.core"
local errors = require "acedata.errors"

local fresh_records = core.dedup   -- (page records, previous page's ids) -> fresh, ids, dups (see src/page.c)

local paging = {}

--- How many pages in a row may fall entirely behind the reader (the listing grew by more than a
-- page between planning and serving) before the planner gives up with a `drift` error.
paging.MAX_BEHIND = 8

--- Makes the iterator.
-- @tparam table plan
--   `fetch(offset, limit) -> page | nil, err` (page = `{count = n, results = {…}}`; runs inside a
--   task of `runtime` when `ahead > 0`), `page_size`, `max_items`, `offset` (start), `order`
--   (`"newest_first"`, `"oldest_first"` or `"other"`), `ahead` (requests beyond the one read next),
--   or `limiter` (an acedata.limiter: `limit() - 1` ahead, asked whenever the planner plans),
--   `runtime` (with either), `url` (for errors), `secret` (scrubbed from errors)
-- @treturn function iterator yielding records; raises the error object on failure
-- @return nil, nil, and a to-be-closed value: closing it (or breaking out of a `for` on 5.4)
--   cancels the requests in flight
function paging.each(plan)
  local fetch, limit, max_items = plan.fetch, plan.page_size, plan.max_items
  local rt, order, auto = plan.runtime, plan.order, plan.limiter
  local ahead = plan.ahead or 0           -- with a limiter: limit - 1, asked at every plan
  local concurrent = ahead > 0 or auto ~= nil
  local poke = concurrent and rt.poke or nil   -- optional in a runtime
  local start = plan.offset or 0
  local pos = start                 -- the next record to yield, in first-page coordinates
  local size = limit                -- the page size the server has shown
  local first_count                 -- count at the first page
  local growth = 0                  -- newest first: records created since the first page
  local max_count                   -- the highest count seen
  local inflight = {}               -- planned requests {at = offset, shift = growth, task = t}, by offset
  local records, index, n = {}, 1, 0
  local final = false               -- records is the last page: stop after its last record
  local prev_seen                   -- ids of the page read before (a set)
  local behind = 0
  local finished = max_items == 0

  local function fail(kind, message, extra)
    local e = { kind = kind, message = message, url = plan.url }
    for k, v in pairs(extra or {}) do e[k] = v end
    return errors.new(e, plan.secret)
  end

  local function stop()
    finished = true
    records, n = {}, 0
    for i = #inflight, 1, -1 do
      if inflight[i].task then rt:cancel(inflight[i].task) end
      inflight[i] = nil
    end
  end

  local function raise(err)
    stop()
    error(err, 0)
  end

  -- Where the records end, in first-page coordinates (nil before the first page).
  local function stop_at()
    if not first_count then return nil end
    local last = first_count
    if max_items then last = math.min(last, start + max_items) end
    return last
  end

  local function request(at)
    -- floor: the highest count known when the request is sent; its answer cannot count fewer
    -- unless records were deleted (answers may come in any order, so only this is a sound test).
    local r = { at = at, shift = growth, floor = max_count }
    if concurrent then
      r.task = rt:spawn(function()
        local page, err = fetch(at + r.shift, limit)
        if not page then error(err, 0) end
        return page
      end)
    end
    return r
  end

  local reading                     -- the request whose page is being waited for

  -- Keeps a request at `pos` and up to `ahead` more after it in flight (the one being read
  -- counts as the first).
  local function replan()
    local last = stop_at()
    if auto then ahead = auto:limit() - 1 end
    -- Requests that fell behind the reader (or past the end) are of no use.
    for i = #inflight, 1, -1 do
      local r = inflight[i]
      if r.at < pos or (last and r.at >= last) then
        if r.task then rt:cancel(r.task) end
        table.remove(inflight, i)
      end
    end
    if not reading and (not last or pos < last) and (not inflight[1] or inflight[1].at ~= pos) then
      if #inflight > ahead then           -- the one read next plus `ahead` at most
        local far = table.remove(inflight)
        if far.task then rt:cancel(far.task) end
      end
      table.insert(inflight, 1, request(pos))
    end
    if not last then return end          -- the first page: nothing else until count is known
    -- While a page is read, `ahead` more are on their way; while one is waited for, it and
    -- `ahead` more: concurrency = n keeps n requests in flight.
    while #inflight < ahead do
      local tail = inflight[#inflight] or reading
      if not tail then break end
      local at = tail.at + size
      if at >= last then break end
      inflight[#inflight + 1] = request(at)
    end
  end

  -- The page of the request at `pos`: fetched now, or waited for.
  local function take()
    local r = table.remove(inflight, 1)
    reading = r
    replan()                              -- the next ones go on their way meanwhile
    local page, err
    if r.task then
      local ok, res = pcall(rt.join, rt, r.task)
      reading = nil
      if not ok then raise(res) end
      page = res
    else
      page, err = fetch(r.at + r.shift, limit)
      reading = nil
      if not page then raise(err) end
    end
    return page, r
  end

  -- Checks a page against what the listing was, places it, and returns its records from `pos`.
  local function place(page, r)
    local got, count = page.results, page.count
    local asked = r.at + r.shift
    if not first_count then first_count, max_count = count, count end
    if r.floor and count < r.floor then
      raise(fail("drift", ("the listing shrank while paging (count %d, then %d at offset %d): records were "
        .. "deleted, so others may have moved to offsets already read; read it again"):format(r.floor, count, asked),
        { count = count }))
    end
    if order == "other" and count ~= first_count then
      raise(fail("drift", ("the listing changed while paging (count %d, then %d at offset %d) and its ordering "
        .. "is not by created_at, so records may have moved anywhere; read it again"):format(first_count, count, asked),
        { count = count }))
    end
    max_count = math.max(max_count, count)
    local at = r.at                      -- where the page starts, in first-page coordinates
    if order == "newest_first" then
      at = asked - (count - first_count)
      growth = math.max(growth, count - first_count)
    end
    local last = stop_at()
    if #got == 0 then
      if asked < count and at < last then
        raise(fail("paging", ("the server returned no records at offset %d although its count is %d")
          :format(asked, count), { count = count }))
      end
      return nil
    end
    -- The server's page size, from a page that is not the last.
    if #got ~= limit and asked + #got < count then size = #got end
    if at + #got <= pos then               -- all of it was read already: the listing grew meanwhile
      behind = behind + 1
      if behind > paging.MAX_BEHIND then
        raise(fail("drift", "the listing grows faster than it can be read (" .. behind
          .. " pages in a row came back behind the reader)", { count = count }))
      end
      return {}
    end
    behind = 0
    local list = got
    local skip = pos - at
    local keep = math.min(#got, last - at)  -- nothing beyond the end (max_items, the first count)
    if skip > 0 or keep < #got then
      list = {}
      for i = skip + 1, keep do list[#list + 1] = got[i] end
    end
    pos = at + keep
    local fresh, seen, dups = fresh_records(list, prev_seen)
    prev_seen = seen
    if dups > 0 and #fresh == 0 then
      raise(fail("paging", ("the server returned the same records at offset %d as before (does it ignore offset?)")
        :format(asked), { count = count }))
    end
    return fresh
  end

  local function refill()
    while true do
      local last = stop_at()
      if last and pos >= last then stop() return end
      if not inflight[1] or inflight[1].at ~= pos then replan() end
      local list = place(take())
      if list == nil then stop() return end
      if concurrent then replan() end     -- the next pages go on their way while these are read
      if #list > 0 then
        records, index, n = list, 1, #list
        final = pos >= stop_at()           -- the end (count, or max_items): nothing follows
        return
      end
    end
  end

  -- Per record: a plain closure over the page's array; the planner runs only at a page's end.
  local function iter()
    local i = index
    if i > n then
      if finished then return nil end
      refill()
      i = index
      if i > n then return nil end
    end
    -- Let the pages in flight progress while the caller works (cheap, and not on every record).
    if poke and i % 32 == 0 then poke(rt) end
    local rec = records[i]
    records[i] = nil                    -- the caller owns it now; keep the page light
    index = i + 1
    if i == n and final then stop() end -- the last record: cancel what is still in flight now
    return rec
  end

  local closer = setmetatable({}, { __close = stop, __index = { close = stop } })
  return iter, nil, nil, closer
end

--- Collects every record of an iteration into an array.
-- @tparam table plan as for `each`
-- @return array of records, or nil and an error
function paging.all(plan)
  local list = {}
  local iter = paging.each(plan)
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
