--- acedata.limiter wired by hand, for specs and bench/adaptive until the paging planner takes
-- concurrency = "auto": pages of known offsets fetched through a client's concurrent view (a
-- multi transport on a blocking loop), one task per attempt. The caller's thread starts
-- attempts while fewer than l:limit() are in flight and l:next_send(now) has passed, consumes
-- pages in order (at most 2 x max pages ahead of the one consumed), and reports every attempt
-- to the limiter. A throttled or failed attempt is asked again, at most 10 attempts a page.
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
  local view = client:concurrent()
  local loop, t = view.loop, view.transport
  local base = client.cfg.base_url
  local page_size, pages, max = opts.page_size or 100, opts.pages, opts.max or 16
  local dopts = { fields = { "deducted_amount", "id" } }
  local l = limiter.new { max = max }
  local bodies, retry, attempts = {}, {}, {}
  local next_page, inflight, failed = 0, 0, nil
  local total_attempts, throttled, limits = 0, 0, {}

  local function attempt(p)
    local t0 = core.now()
    l:on_send(t0)
    inflight = inflight + 1
    total_attempts = total_attempts + 1
    local url = ("%s/api/v1/usage/proxies/?user_id=%s&limit=%d&offset=%d")
      :format(base, opts.user_id, page_size, p * page_size)
    local res, terr = t:get(url, client.headers, nil, dopts)
    inflight = inflight - 1
    local now = core.now()
    local r = { latency = now - t0, status = res and res.status, kind = terr and terr.kind }
    if res and res.headers then r.retry_after = tonumber(res.headers["retry-after"]) end
    l:on_result(now, r)
    limits[#limits + 1] = l:limit()
    attempts[p] = (attempts[p] or 0) + 1
    if res and res.status == 429 then throttled = throttled + 1 end
    if res and res.status == 200 and not res.decode_error then
      bodies[p] = res.body
    elseif attempts[p] < 10 and (not res or res.status == 429 or res.status >= 500) then
      retry[#retry + 1] = p
    else
      failed = failed or ("page " .. p .. ": " .. (res and ("HTTP " .. res.status) or terr.message))
    end
  end

  local sleeper_due = -math.huge
  local head, sum, n = 0, 0, 0
  local ids = opts.ids and {}
  local t0 = core.now()
  while head < pages and not failed do
    while inflight < l:limit() do
      local p = retry[1]
      if not p and next_page < pages and next_page < head + 2 * max then p = next_page end
      if not p then break end
      local now = core.now()
      local due = l:next_send(now)
      if due > now then
        if sleeper_due < now or sleeper_due > due then   -- one timer wakes the loop in time
          sleeper_due = due
          loop:spawn(function() loop:sleep(due - now) end)
        end
        break
      end
      if retry[1] then table.remove(retry, 1) else next_page = next_page + 1 end
      loop:spawn(attempt, p)
    end
    local body = bodies[head]
    if body then
      bodies[head] = nil
      local items = body.items or body.results
      for j = 1, #items do
        sum, n = sum + items[j].deducted_amount, n + 1
        if ids then ids[n] = items[j].id end
      end
      head = head + 1
    else
      loop:step()
    end
  end
  if failed then return nil, failed end
  return { records = n, sum = sum, ids = ids, seconds = core.now() - t0, attempts = total_attempts,
    throttled = throttled, limits = limits, limiter = l }
end

return pager
