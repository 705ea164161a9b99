-- Runs INSIDE the nginx started by spec/helpers/nginx_app.lua (OpenResty's LuaJIT, one worker):
-- the handlers spec/60-openresty_spec.lua talks to. Every answer is JSON.
-- The token comes from mock/dataset.lua, read here: it is never in nginx.conf, a command line,
-- a log or an answer.
-- luacheck: globals ngx
local acedata = require "acedata"
local dataset = require "mock.dataset"

local handlers = {}
local settings = {}

local function results() return ngx.shared.acedata_results end

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(dataset.to_json(value))
end

--- A client on the mock; args from the query string.
local function client_for(args, extra)
  local opts = { token = dataset.TOKEN, base_url = settings.mock_url, backoff_base = 0.01, backoff_cap = 0.05 }
  if args.transport then opts.transport = args.transport end
  if args.timeout then opts.timeout = tonumber(args.timeout) end
  if args.max_retries then opts.max_retries = tonumber(args.max_retries) end
  if args.base_url then opts.base_url = args.base_url end
  if args.ssl_verify == "false" then opts.ssl_verify = false end
  for k, v in pairs(extra or {}) do opts[k] = v end
  return acedata.new(opts)
end

local function err_fields(err)
  if acedata.is_error(err) then
    return { kind = err.kind, status = err.status, message = err.message, text = tostring(err) }
  end
  return { kind = "lua", message = tostring(err), text = tostring(err) }
end

local ROUTES = {}

--- Totals of every record through each{} (concurrency = n: pages fetched by ngx.thread tasks;
-- fields = 1: only the fields summed are decoded, and `unasked` counts the other keys seen).
local SUMMED = { id = true, used_amount = true, deducted_amount = true, service = true }
function ROUTES.totals(args)
  local client = client_for(args)
  local t = { count = 0, used = 0, deducted = 0, by_service = setmetatable({}, dataset.object_mt),
    transport = client.runtime_name, pid = ngx.worker.pid() }
  local started = ngx.now()
  t.unasked = 0
  for rec in client.usage.proxies.each { page_size = tonumber(args.page_size) or 100,
      concurrency = tonumber(args.concurrency),
      fields = args.fields and { "used_amount", "deducted_amount", "service" } or nil } do
    for k in pairs(rec) do if not SUMMED[k] then t.unasked = t.unasked + 1 end end
    t.count = t.count + 1
    t.used = t.used + rec.used_amount
    t.deducted = t.deducted + rec.deducted_amount
    local alias = rec.service.alias
    local b = t.by_service[alias]
    if not b then b = { count = 0, used = 0, deducted = 0 }; t.by_service[alias] = b end
    b.count, b.used, b.deducted = b.count + 1, b.used + rec.used_amount, b.deducted + rec.deducted_amount
  end
  ngx.update_time()
  t.seconds = ngx.now() - started
  return 200, t
end

--- One page (user_id given, so exactly one request to the mock unless retried).
function ROUTES.page(args)
  local client = client_for(args)
  ngx.update_time()
  local started = ngx.now()
  local page, err = client.usage.proxies { user_id = dataset.USER_ID, limit = tonumber(args.limit) or 5 }
  ngx.update_time()
  local seconds = ngx.now() - started
  if not page then return 502, { error = err_fields(err), seconds = seconds, transport = client.runtime_name } end
  return 200, { count = page.count, n = #page.results, first = page.results[1] and page.results[1].id,
    seconds = seconds, transport = client.runtime_name, pid = ngx.worker.pid() }
end

--- One exchange through the runtime itself: what came back, as the runtime saw it.
function ROUTES.raw(args)
  local client = client_for(args)
  local url = client.cfg.base_url .. "/api/v1/usage/proxies/?user_id=" .. dataset.USER_ID .. "&limit="
    .. (tonumber(args.limit) or 5)
  local res, terr = client.runtime:get(url, client.headers)
  if not res then return 502, { error = terr } end
  local body = res:decode()
  return 200, { status = res.status, encoding = res.headers["content-encoding"], count = body.count,
    n = #body.items, first = body.items[1] and body.items[1].id }
end

--- n pages through one client, each its own request (keep-alive reuse is measured on the mock).
function ROUTES.pages(args)
  local client = client_for(args)
  local n = math.min(tonumber(args.n) or 3, 20)
  local got = 0
  for i = 1, n do
    local page, err = client.usage.proxies { limit = 10, offset = (i - 1) * 10 }
    if not page then return 502, { error = err_fields(err) } end
    got = got + #page.results
  end
  return 200, { records = got }
end

--- The default client, made from the environment (`env` directives in nginx.conf).
function ROUTES.default()
  local page, err = acedata.usage.proxies { limit = 2 }
  if not page then return 502, { error = err_fields(err) } end
  return 200, { count = page.count, n = #page.results, transport = acedata.default_client().runtime_name }
end

--- No I/O: answers at once (what the 50 concurrent requests ask for). Decodes a little JSON with
-- the C decoder so the module is exercised too.
function ROUTES.fast()
  local v = acedata.decode('{"ok":true,"n":[1,2,3]}')
  return 200, { ok = v.ok, n = #v.n, pid = ngx.worker.pid() }
end

--- A value stored by another phase (init, log, a timer).
function ROUTES.result(args)
  local v = results():get(args.key or "")
  return 200, { key = args.key, value = v }
end

--- An error raised in a phase without cosockets, as its text.
local function try_in_phase()
  local ok, err = pcall(function()
    local client = client_for({})
    return client.usage.proxies { user_id = dataset.USER_ID, limit = 1 }
  end)
  if ok then return "no error" end
  return tostring(err)
end

--- init_by_lua: remembers the mock URL, and what a request in the init phase does.
function handlers.init(opts)
  settings = opts
  results():set("init", try_in_phase())
end

--- set_by_lua: returns the error text as the variable's value.
function handlers.in_set_phase() return try_in_phase() end

--- log_by_lua: the error, then the documented fix: the same request from ngx.timer.at.
function handlers.in_log_phase()
  results():set("log", try_in_phase())
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local client = client_for({})
    local page, perr = client.usage.proxies { user_id = dataset.USER_ID, limit = 3 }
    results():set("timer", page and ("count " .. page.count .. " via " .. client.runtime_name)
      or ("error " .. tostring(perr)))
  end)
  if not ok then results():set("timer", "timer failed: " .. tostring(err)) end
end

--- header_filter_by_lua
function handlers.in_header_filter_phase()
  results():set("header_filter", try_in_phase())
end

--- content_by_lua entry point: /app/<route>?args
function handlers.route()
  local name = ngx.var.uri:match("^/app/([%w_]+)$")
  local fn = name and ROUTES[name]
  if not fn then return reply(404, { error = "no route " .. ngx.var.uri }) end
  local ok, status, value = pcall(fn, ngx.req.get_uri_args())
  if not ok then return reply(500, { error = err_fields(status) }) end
  return reply(status, value)
end

return handlers
