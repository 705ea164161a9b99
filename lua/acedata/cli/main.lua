--- The `acedata` command (bin/acedata is a thin wrapper around `main.run`).
--
--    acedata usage proxies [options]     list or summarise proxy usage records
--    acedata usage proxy ID              one record
--    acedata me                          the token's owner
--    acedata completion bash|zsh|fish    a shell completion script
--
-- The command line itself (options, help, usage errors) is defined in acedata.cli.args. The token
-- and base URL come from the environment, as for the module (ACEDATACLOUD_PLATFORM_TOKEN,
-- PLATFORM_API_BASE_URL, PLATFORM_REQUEST_TIMEOUT): never from the command line, where every user
-- of the machine could read it. Exit status: 0 done, 1 the API, the network or the output failed
-- (message on stderr), 2 a usage error.
-- @module acedata.cli.main

local args = require "acedata.cli.args"
local format = require "acedata.cli.format"
local group = require "acedata.cli.group"
local output = require "acedata.cli.output"
local progress = require "acedata.cli.progress"
local reports = require "acedata.report.cli"

local main = {}

local OK, FAILED, USAGE = 0, 1, 2

-- A failure that ends the command with an exit status and a message.
local function stop(status, message)
  error({ exit = status, message = message }, 0)
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

local function new_client(o)
  return api_call(function() return require("acedata").new { ca_file = o.ca_file } end)
end

-- A repeatable option given no time is an empty list: no filter.
local function list(v)
  if v == nil or #v == 0 then return nil end
  return v
end

local function proxies_params(o)
  return {
    application_id = list(o.application_id), proxy_id = list(o.proxy_id), user_id = o.user_id,
    created_at_from = o.from, created_at_to = o.to, ordering = o.ordering,
  }
end

local function cmd_proxies(o, env)
  local by = o.group_by
  -- --chart and --format html: a report (acedata.report.cli)
  local period, perr = reports.period(o)
  if perr then stop(USAGE, perr .. "\nRun \"acedata usage proxies --help\" for help.") end
  local opts = { page_size = o.page_size, concurrency = o.concurrency, max_items = o.max_items }
  local filters = proxies_params(o)

  local client = new_client(o)
  local each_params = {}
  for k, v in pairs(filters) do each_params[k] = v end
  for k, v in pairs(opts) do each_params[k] = v end
  -- Only what is printed or summed is decoded.
  each_params.fields = period and reports.FIELDS or by and group.FIELDS[by] or format.fields(o.format)
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
  -- fails at once creates no file. --output's file only replaces FILE once every record is in.
  local out
  local grouping = period and reports.new(period) or by and group.new(by)
  local ok, err = pcall(function()
    local rec = iter()
    out = output.open(env, o.output)
    local sink = not grouping and format.records(o.format, out.file)
    while rec ~= nil do
      if grouping then grouping:add(rec) else sink:row(rec) end
      if line then line:tick() end
      rec = iter()
    end
    if line then line:clear() line = nil end
    if period then
      reports.write(grouping, out.file, o, env, filters)
    elseif grouping then
      local rows, width = grouping:rows()
      local w = format.groups(o.format, out.file, by, width)
      for _, row in ipairs(rows) do w:row(row) end
      w:finish()
    else
      sink:finish()
    end
    out:commit()
  end)
  if line then line:clear() end
  if not ok then
    if out then out:abort() end
    if type(err) == "table" and err.exit then error(err, 0) end
    if require("acedata").is_error(err) then stop(FAILED, tostring(err)) end
    error(err, 0)
  end
  return OK
end

local function cmd_object(o, env, fetch)
  local client = new_client(o)
  local obj, err = api_call(fetch, client, o.id)
  if obj == nil then stop(FAILED, tostring(err)) end
  local out = output.open(env, o.output)
  local ok, werr = pcall(function()
    format.object(o.format, out.file, obj)
    out:commit()
  end)
  if not ok then
    out:abort()
    error(werr, 0)
  end
  return OK
end

local COMMANDS = {
  ["usage proxies"] = cmd_proxies,
  ["usage proxy"] = function(o, env)
    return cmd_object(o, env, function(client, id) return client.usage.proxies.get(id) end)
  end,
  me = function(o, env)
    return cmd_object(o, env, function(client) return client.me() end)
  end,
  completion = function(o, env, parser)
    env.stdout:write(parser["get_" .. o.shell .. "_complete"](parser))
    return OK
  end,
  help = function(o, env, _, paths)
    local name = table.concat(o.words, " ")
    local parser = args.find(paths, name)
    if not parser then
      stop(USAGE, "no command \"" .. name .. "\"\nRun \"acedata --help\" for the commands.")
    end
    env.stdout:write(parser:get_help(), "\n")
    return OK
  end,
}

local function dispatch(argv, env)
  local o, path, parser, paths = args.parse(argv)
  return COMMANDS[path](o, env, parser, paths)
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
  -- Whatever ended the run (an error, an interrupt), no temporary output file stays behind.
  output.cleanup()
  if ok then return res end
  if type(res) == "table" and res.exit then
    if res.output then
      env.stdout:write(res.output)
      return res.exit
    end
    env.stderr:write("acedata: ", (res.message:gsub("^acedata: ", "")), "\n")
    return res.exit
  end
  if type(res) == "string" and res:find("^cannot write: ") then   -- from the writers
    env.stderr:write("acedata: ", res, "\n")
    return FAILED
  end
  if type(res) == "string" and res:find("interrupted!$") then     -- SIGINT in lua.c / luajit
    env.stderr:write("acedata: interrupted\n")
    return 130
  end
  env.stderr:write("acedata: internal error: ", clean(res), "\n", debug.traceback(), "\n")
  return FAILED
end

return main
