--- The retry loop: one API call as attempts through the client's runtime, each response decoded
-- here (transports only do HTTP), failures mapped to typed errors, waits between attempts.
-- @module acedata.request

local errors = require "acedata.errors"
local log = require "acedata.log"
local retry = require "acedata.retry"

local request = {}

--- Turns one attempt's outcome into (body) or (nil, err): a success is decoded with
-- `decode_opts`; an error response is decoded for its message.
local function outcome(res, terr, ctx, decode_opts)
  if not res then
    return nil, errors.new({ kind = terr.kind, status = terr.status, message = terr.message, url = ctx.url,
      attempts = ctx.attempts }, ctx.secret)
  end
  local status = res.status
  if status >= 200 and status <= 299 then
    local body, decode_error = res:decode(decode_opts)
    if decode_error ~= nil then
      local h = res.headers or {}         -- read only here: a runtime may build it on demand
      return nil, errors.new({
        kind = "decode", status = status, url = ctx.url, attempts = ctx.attempts,
        message = "response is not valid JSON: " .. decode_error,
        request_id = h["x-request-id"] or h["request-id"],
      }, ctx.secret)
    end
    return body
  end
  local body = res:decode()
  return nil, errors.from_response({ status = status, headers = res.headers or {}, body = body }, ctx)
end

--- The error for a call that reached its deadline: the last attempt's error, or a timeout when
-- no attempt could start.
local function past_deadline(ctx, err)
  if err then
    err.message = err.message .. " (deadline reached, no further attempt)"
    return err
  end
  return errors.new({ kind = "timeout", url = ctx.url, attempts = ctx.attempts,
    message = "deadline reached before the request could be sent" }, ctx.secret)
end

--- GETs `url` and returns the decoded body, retrying what is worth retrying.
-- @tparam table client the client (cfg, runtime, headers, shared)
-- @tparam string url
-- @tparam[opt] number deadline monotonic time after which no new attempt starts; an attempt
--   started before it is given at most the time that is left
-- @tparam[opt] table decode_opts core.decode's options for the body (`fields`)
-- @tparam[opt] table limiter an acedata.limiter (`concurrency = "auto"`): paces every attempt and
--   is told how each one went
-- @return body, nil, attempts; or nil and an error (`err.attempts` is always set)
function request.get(client, url, deadline, decode_opts, limiter)
  local cfg, t = client.cfg, client.runtime
  local ctx = { url = url, attempts = 0, secret = cfg.token }
  local shared = client.shared
  local last_err
  while true do
    -- Wait while another request of this client was told to slow down (a 429's Retry-After), and,
    -- with concurrency = "auto", while the limiter's pace holds attempts back. Checked again after
    -- every sleep: tasks that slept until the same moment go one by one, and a pause that began
    -- meanwhile is kept. The pace is a guess about the server and the deadline a promise to the
    -- caller: a hold that would pass the deadline is not kept (the attempt goes now).
    while true do
      local now = t:now()
      local pause = shared and shared.pause_until - now
      if pause and pause > 0 then
        if deadline and now + pause >= deadline then return nil, past_deadline(ctx, last_err) end
        t:sleep(pause)
      else
        local hold = limiter and limiter:next_send(now) - now
        if not hold or hold <= 0 or (deadline and now + hold >= deadline) then break end
        t:sleep(hold)
      end
    end
    if limiter then limiter:on_send(t:now()) end
    local timeout
    if deadline then
      local left = deadline - t:now()
      if left <= 0 then return nil, past_deadline(ctx, last_err) end
      if left < cfg.timeout then timeout = left end
    end
    ctx.attempts = ctx.attempts + 1
    local started = t:now()
    local res, terr = t:get(url, client.headers, timeout)
    local body, err = outcome(res, terr, ctx, decode_opts)
    local finished = t:now()
    if cfg.log or cfg.on_response then log.attempt(client, ctx, started, finished, res, err) end
    local retry_after = err and res and res.headers and retry.parse_retry_after(res.headers["retry-after"], os.time())
    if limiter then
      limiter:on_result(finished, { latency = finished - started, status = res and res.status,
        kind = terr and terr.kind, retry_after = retry_after })
    end
    -- Done with the response: a runtime may reuse its body's buffer for the next request.
    if res and res.close then res:close() end
    if err == nil then return body, nil, ctx.attempts end
    last_err = err

    if retry_after then err.retry_after = retry_after end
    if not retry.retryable(err) or ctx.attempts > cfg.max_retries then return nil, err end
    if retry_after and retry_after > cfg.max_retry_after then return nil, err end
    local wait = retry.delay(cfg, ctx.attempts, retry_after, math.random)
    if deadline and t:now() + wait >= deadline then return nil, past_deadline(ctx, err) end
    if retry_after and shared then shared.pause_until = math.max(shared.pause_until, t:now() + wait) end
    log.retry(client, ctx, wait, err)
    t:sleep(wait)
  end
end

return request
