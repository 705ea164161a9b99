--- acedata.limiter wired by hand, for specs and bench/adaptive until the paging planner takes
-- concurrency = "auto": pages of known offsets fetched through a client's runtime
-- (acedata.runtime: get, spawn, join, sleep), one task per attempt. The caller's thread starts
-- attempts while fewer than l:limit() are in flight and l:next_send(now) has passed, consumes
-- pages in order (at most 2 x max pages ahead of the one consumed), and reports every attempt
-- to the limiter. To wait, it joins the oldest attempt in flight, or sleeps until the pacing
-- lets the next one go (the runtime takes answers in meanwhile). A throttled or failed attempt
-- is asked again, at most 10 attempts a page.
--
--    local pager = require "spec.helpers.limiter_pager"
--    local r = pager.run(client, { pages = 300, page_size = 100, max = 16, user_id = id })
--    -- r = { records, sum, ids (with opts.ids), seconds, attempts, throttled,
--    --       limits (l:limit() after each result), limiter }
--    -- or nil, message when a page failed
local core = require "acedata.core"
local limiter = require "acedata.limiter"

local pager = {}

function pager.run(client, opts)
  local rt = client.runtime
  local base = client.cfg.base_url
  local page_size, pages, max = opts.page_size or 100, opts.pages, opts.max or 16
  local dopts = { fields = { "deducted_amount", "id" } }
  local l = limiter.new { max = max }
  local bodies, retry, attempts = {}, {}, {}
  local next_page, inflight, failed = 0, 0, nil
  local total_attempts, throttled, limits = 0, 0, {}
  local flying = {}                     -- attempt tasks, oldest first
  local head, sum, n = 0, 0, 0          -- the page consumed next; the records so far

  local function attempt(p)
    local t0 = core.now()
    l:on_send(t0)
    inflight = inflight + 1
    total_attempts = total_attempts + 1
    local url = ("%s/api/v1/usage/proxies/?user_id=%s&limit=%d&offset=%d")
      :format(base, opts.user_id, page_size, p * page_size)
    local res, terr = rt:get(url, client.headers)
    local body, derr
    if res and res.status == 200 then body, derr = res:decode(dopts) end
    inflight = inflight - 1
    local now = core.now()
    local r = { latency = now - t0, status = res and res.status, kind = terr and terr.kind }
    if res and res.headers then r.retry_after = tonumber(res.headers["retry-after"]) end
    l:on_result(now, r)
    limits[#limits + 1] = l:limit()
    attempts[p] = (attempts[p] or 0) + 1
    if res and res.status == 429 then throttled = throttled + 1 end
    if body ~= nil then
      bodies[p] = body
    elseif attempts[p] < 10 and (not res or res.status == 429 or res.status >= 500) then
      retry[#retry + 1] = p
    else
      failed = failed or ("page " .. p .. ": " .. (res and ("HTTP " .. res.status .. " " .. tostring(derr))
        or terr.message))
    end
  end

  -- Starts what may start; returns the time the pacing allows the next one, when it holds one back.
  local function start()
    while inflight < l:limit() do
      local p = retry[1]
      if not p and next_page < pages and next_page < head + 2 * max then p = next_page end
      if not p then return nil end
      local now = core.now()
      local due = l:next_send(now)
      if due > now then return due end
      if retry[1] then table.remove(retry, 1) else next_page = next_page + 1 end
      flying[#flying + 1] = rt:spawn(attempt, p)
    end
  end

  local ids = opts.ids and {}
  local t0 = core.now()
  while head < pages and not failed do
    local due = start()
    local body = bodies[head]
    if body then
      bodies[head] = nil
      local items = body.items or body.results
      for j = 1, #items do
        sum, n = sum + items[j].deducted_amount, n + 1
        if ids then ids[n] = items[j].id end
      end
      head = head + 1
    elseif due then
      rt:sleep(math.max(0, due - core.now()))   -- answers arriving meanwhile are taken in
    elseif #flying > 0 then
      rt:join(table.remove(flying, 1))           -- the oldest attempt (it never raises)
    else
      error("limiter_pager: nothing in flight and nothing to start")
    end
  end
  if failed then return nil, failed end
  return { records = n, sum = sum, ids = ids, seconds = core.now() - t0, attempts = total_attempts,
    throttled = throttled, limits = limits, limiter = l }
end

return pager
