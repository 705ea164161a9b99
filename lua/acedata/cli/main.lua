--- The `acedata` command (bin/acedata is a thin wrapper around `main.run`).
--
--    acedata usage proxies [options]     list or summarise proxy usage records
--    acedata usage proxy ID              one record
--    acedata me                          the token's owner
--
-- The token and base URL come from the environment, as for the module
-- (ACEDATACLOUD_PLATFORM_TOKEN, PLATFORM_API_BASE_URL, PLATFORM_REQUEST_TIMEOUT): never from the
-- command line, where every user of the machine could read it. Exit status: 0 done, 1 the API
-- or the network failed (message on stderr), 2 a usage error.
-- @module acedata.cli.main

local args = require "acedata.cli.args"
local clitime = require "acedata.cli.time"
local format = require "acedata.cli.format"
local group = require "acedata.cli.group"
local progress = require "acedata.cli.progress"
local reports = require "acedata.report.cli"

local main = {}

local OK, FAILED, USAGE = 0, 1, 2

local HELP = {}

HELP.main = [[
Usage: acedata <command> [options]

Commands:
  usage proxies   list proxy usage records, or sum them per service, application, proxy, day or month
  usage proxy ID  show one proxy usage record
  me              show the owner of the token

Options:
  -h, --help      show this help (each command has its own: acedata usage proxies --help)
  --version       show the version

Environment:
  ACEDATACLOUD_PLATFORM_TOKEN  the platform token (platform-v1-...); required
  PLATFORM_API_BASE_URL        the API root (default https://platform.acedata.cloud)
  PLATFORM_REQUEST_TIMEOUT     seconds for one request (default 30)

Exit status: 0 done, 1 the API or the network failed, 2 wrong usage.
]]

HELP.usage = [[
Usage: acedata usage proxies [options]
       acedata usage proxy ID [--format F] [--output FILE]

Run "acedata usage proxies --help" or "acedata usage proxy --help" for the options.
]]

HELP.proxies = [[
Usage: acedata usage proxies [options]

Lists proxy usage records (GET /api/v1/usage/proxies/), every page, record by record, newest
first by default; or, with --group-by, their count and amounts per group and in total.

Filters:
  --application-id ID   only this application (repeat for several)
  --proxy-id ID         only this proxy (repeat for several)
  --user-id ID|me       whose records (default: me, the token's owner)
  --from TIME           created at or after TIME
  --to TIME             created at or before TIME
  --ordering F          -created_at (default), created_at, used_amount, -used_amount,
                        deducted_amount or -deducted_amount
  --max-items N         stop after N records

Output:
  --group-by G          service, application, proxy, day or month (UTC): count, used and
                        deducted per group, sorted, and a total row
  --chart [PERIOD]      a stacked bar chart of deducted credits per PERIOD (day, the default,
                        week or month; UTC) and service, with totals and a legend; coloured on a
                        terminal unless NO_COLOR is set (docs/reports.md)
  --format F            table (default), csv, jsonl, json, or html: one self-contained page
                        (a chart per day, or per --chart PERIOD, tables; docs/reports.md)
  --output FILE         write to FILE instead of standard output
  --concurrency N       pages fetched at once (default 1, at most 16)
  --page-size N         records per page (default 100, at most 1000)
  -h, --help            show this help

TIME is ISO 8601 (2024-08-01T00:00:00Z, 2024-08-01T02:00:00+02:00; no zone means UTC), a date
(2024-08-01, midnight UTC), or a time before now: 30s, 15m, 12h, 7d, 2w; or "now".

Records stream as they arrive: csv and jsonl write one line per record, json one array, table
fixed-width columns (csv and table show a fixed set of columns, jsonl and json every field).
With --group-by, json is an array of {"<group>": key, "count", "used", "deducted"} objects and
a last {"total": true, ...}; jsonl the same objects one per line; csv and table end with a
TOTAL row. While records are fetched, a progress line is shown on stderr when it is a terminal.
]]

HELP.proxy = [[
Usage: acedata usage proxy ID [options]

Shows one proxy usage record (GET /api/v1/usage/proxies/ID).

Options:
  --format F      table (default: one "field  value" line each), json, jsonl or csv
  --output FILE   write to FILE instead of standard output
  -h, --help      show this help
]]

HELP.me = [[
Usage: acedata me [options]

Shows the owner of the token (GET /api/v1/platform-tokens/me/): id, username, email, ...

Options:
  --format F      table (default: one "field  value" line each), json, jsonl or csv
  --output FILE   write to FILE instead of standard output
  -h, --help      show this help
]]

local PROXIES_SPEC = {
  ["application-id"] = { many = true }, ["proxy-id"] = { many = true }, ["user-id"] = {},
  from = {}, to = {}, ordering = {}, ["max-items"] = {}, ["group-by"] = {}, format = {},
  concurrency = {}, ["page-size"] = {}, output = {}, help = { flag = true },
  chart = { optional = reports.PERIODS },
}
local ONE_SPEC = { format = {}, output = {}, help = { flag = true } }

-- A failure that ends the command with an exit status and a message.
local function stop(status, message)
  error({ exit = status, message = message }, 0)
end

local function usage_error(message, help)
  stop(USAGE, message .. "\n" .. (help and ("Run \"acedata " .. help .. " --help\" for help.") or ""))
end

-- need(help, v, err): v, or a usage error with err (for functions returning nil, message).
local function need(help, v, err)
  if v == nil then usage_error(err, help) end
  return v
end

-- Turns a Lua error raised by the module into text without the "file:line:" prefix.
local function clean(msg)
  msg = tostring(msg)
  return (msg:gsub("^[^\n]-:%d+: ", ""))
end

-- Wraps calls into the module: an API error object -> status 1; a raised string (misuse,
-- configuration) -> status 2.
local function api_call(fn, ...)
  local ok, a, b = pcall(fn, ...)
  if ok then return a, b end
  if type(a) == "table" and a.exit then error(a, 0) end
  local acedata = require "acedata"
  if acedata.is_error(a) then stop(FAILED, tostring(a)) end
  stop(USAGE, clean(a))
end

local function new_client()
  return api_call(function() return require("acedata").new() end)
end

-- Output: a file, or stdout. Returns the file and a function that closes it.
local function open_output(env, path)
  if not path then
    env.stdout:setvbuf(env.isatty(1) and "line" or "full")
    return env.stdout, function() env.stdout:flush() end
  end
  local f, err = io.open(path, "wb")
  if not f then stop(USAGE, "cannot write " .. clean(err)) end
  f:setvbuf("full")
  return f, function() f:close() end
end

local function proxies_params(o)
  local params = {}
  params.application_id = o["application-id"]
  params.proxy_id = o["proxy-id"]
  local user = o["user-id"]
  if user ~= nil then
    if user == "" then usage_error("--user-id must not be empty", "usage proxies") end
    params.user_id = user
  end
  params.created_at_from, params.created_at_to = o.from, o.to
  params.ordering = o.ordering
  return params
end

local function parse_time(name, value)
  local t, err = clitime.parse(value, os.time())
  if not t then usage_error("--" .. name .. ": " .. err, "usage proxies") end
  return t
end

local function cmd_proxies(argv, first, env)
  local o, rest = args.parse(argv, PROXIES_SPEC, first)
  if not o then usage_error(rest, "usage proxies") end
  if o.help then env.stdout:write(HELP.proxies) return OK end
  if #rest > 0 then usage_error("unexpected argument " .. string.format("%q", rest[1]), "usage proxies") end
  local formats = { "html" }   -- html: the report page (acedata.report.html)
  for i, name in ipairs(format.NAMES) do table.insert(formats, i, name) end
  local fmt = need("usage proxies", args.choice("format", o.format or "table", formats))
  local by = o["group-by"] and need("usage proxies", args.choice("group-by", o["group-by"], group.NAMES))
  -- --chart and --format html: a report (acedata.report.cli)
  local period, perr = reports.period { chart = o.chart, format = fmt, group_by = by }
  if perr then usage_error(perr, "usage proxies") end
  local opts = { page_size = 100, concurrency = 1 }
  if o["max-items"] then opts.max_items = need("usage proxies", args.integer("max-items", o["max-items"], 0)) end
  if o.concurrency then opts.concurrency = need("usage proxies", args.integer("concurrency", o.concurrency, 1, 16)) end
  if o["page-size"] then opts.page_size = need("usage proxies", args.integer("page-size", o["page-size"], 1, 1000)) end
  if o.from then o.from = parse_time("from", o.from) end
  if o.to then o.to = parse_time("to", o.to) end
  local filters = proxies_params(o)

  local client = new_client()
  local each_params = {}
  for k, v in pairs(filters) do each_params[k] = v end
  for k, v in pairs(opts) do each_params[k] = v end
  -- Only what is printed or summed is decoded.
  each_params.fields = period and reports.FIELDS or by and group.FIELDS[by] or format.fields(fmt)
  -- Misuse (a control character in an id, ...) raises here, before anything is sent.
  local iter = api_call(client.usage.proxies.each, each_params)

  -- The progress line: on a terminal stderr, unless the records themselves go to that terminal
  -- (they would tear it apart).
  local line
  if env.isatty(2) and (o.output or by or period or not env.isatty(1)) then
    -- One small request for the count the line needs (only for terminals).
    local count_params = { limit = 1 }
    for k, v in pairs(filters) do count_params[k] = v end
    local page, err = api_call(client.usage.proxies, count_params)
    if not page then stop(FAILED, tostring(err)) end
    local total = page.count
    if opts.max_items and opts.max_items < total then total = opts.max_items end
    line = progress.new(env.stderr, env.now, total)
  end

  -- The output is opened, and a header written, only once the first page came: a request that
  -- fails at once leaves no empty file and no lone header behind.
  local out, close, sink
  local grouping = period and reports.new(period) or by and group.new(by)
  local ok, err = pcall(function()
    local rec = iter()
    out, close = open_output(env, o.output)
    if not grouping then sink = format.records(fmt, out) end
    while rec ~= nil do
      if grouping then grouping:add(rec) else sink:row(rec) end
      if line then line:tick() end
      rec = iter()
    end
  end)
  if line then line:clear() end
  if not ok then
    if close then close() end
    if type(err) == "table" and err.exit then error(err, 0) end
    if require("acedata").is_error(err) then stop(FAILED, tostring(err)) end
    error(err, 0)
  end
  if period then
    reports.write(grouping, out, { format = fmt, output = o.output }, env, filters)
  elseif grouping then
    local rows, width = grouping:rows()
    local w = format.groups(fmt, out, by, width)
    for _, row in ipairs(rows) do w:row(row) end
    w:finish()
  else
    sink:finish()
  end
  close()
  return OK
end

local function cmd_object(argv, first, env, help, fetch)
  local o, rest = args.parse(argv, ONE_SPEC, first)
  local name = help == "proxy" and "usage proxy" or "me"
  if not o then usage_error(rest, name) end
  if o.help then env.stdout:write(HELP[help]) return OK end
  local fmt = need(name, args.choice("format", o.format or "table", format.NAMES))
  local id
  if help == "proxy" then
    id = rest[1]
    if not id or id == "" then usage_error("usage proxy needs an ID", name) end
    if #rest > 1 then usage_error("unexpected argument " .. string.format("%q", rest[2]), name) end
  elseif #rest > 0 then
    usage_error("unexpected argument " .. string.format("%q", rest[1]), name)
  end
  local client = new_client()
  local obj, err = api_call(fetch, client, id)
  if obj == nil then stop(FAILED, tostring(err)) end
  local out, close = open_output(env, o.output)
  format.object(fmt, out, obj)
  close()
  return OK
end

local function dispatch(argv, env)
  local cmd = argv[1]
  if cmd == nil then env.stderr:write("acedata: a command is needed\n", HELP.main) return USAGE end
  if cmd == "-h" or cmd == "--help" or cmd == "help" then env.stdout:write(HELP.main) return OK end
  if cmd == "--version" then
    env.stdout:write("acedata ", require("acedata")._VERSION, "\n")
    return OK
  end
  if cmd == "me" then
    return cmd_object(argv, 2, env, "me", function(client) return client.me() end)
  end
  if cmd == "usage" then
    local sub = argv[2]
    if sub == "proxies" then return cmd_proxies(argv, 3, env) end
    if sub == "proxy" then
      return cmd_object(argv, 3, env, "proxy", function(client, id) return client.usage.proxies.get(id) end)
    end
    if sub == "-h" or sub == "--help" then env.stdout:write(HELP.usage) return OK end
    env.stderr:write("acedata: ", sub and ("unknown command \"usage " .. sub .. "\"\n") or "usage needs a command\n",
      HELP.usage)
    return USAGE
  end
  env.stderr:write("acedata: unknown command ", string.format("%q", cmd), "\n", HELP.main)
  return USAGE
end

--- Runs the command; returns the exit status.
-- @tparam table argv the arguments (`arg` of the script)
-- @tparam[opt] table env `stdout`, `stderr` (files), `isatty(fd)`, `now()` (monotonic seconds)
function main.run(argv, env)
  env = env or {}
  env.stdout = env.stdout or io.stdout
  env.stderr = env.stderr or io.stderr
  env.isatty = env.isatty or progress.isatty
  env.now = env.now or function() return require("acedata.core").now() end
  local ok, res = pcall(dispatch, argv, env)
  if ok then return res end
  if type(res) == "string" and res:find("^cannot write: ") then   -- from the writers
    env.stderr:write("acedata: ", res, "\n")
    return FAILED
  end
  if type(res) == "table" and res.exit then
    env.stderr:write("acedata: ", (res.message:gsub("^acedata: ", "")), "\n")
    return res.exit
  end
  env.stderr:write("acedata: internal error: ", clean(res), "\n", debug.traceback(), "\n")
  return FAILED
end

return main
