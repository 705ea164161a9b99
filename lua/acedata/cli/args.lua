--- The `acedata` command line, defined with lua-argparse: commands, options, help, usage errors and
-- shell completion (`acedata completion bash|zsh|fish`) all come from this one definition.
--
--    local result, cmd = args.parse(argv)   -- result.format, result.application_id = { … }, …
--                                           -- cmd: "usage proxies" | "usage proxy" | "me" | …
--
-- Adding a flag to a command is one line in `args.build` below, e.g.
-- `proxies:flag("--chart", "Draw a bar chart.")`; its value is then `result.chart`.
--
-- Misuse raises `{ exit = 2, message = "…" }` (the message ends with how to get help); `--help`
-- raises `{ exit = 0, output = <the command's help> }` and `--version` `{ exit = 0, output = … }`.
-- Nothing here prints or exits: acedata.cli.main does.
-- @module acedata.cli.args

local argparse = require "argparse"
local clitime = require "acedata.cli.time"
local format = require "acedata.cli.format"
local reports = require "acedata.report.cli"
local group = require "acedata.cli.group"

local args = {}

args.SHELLS = { "bash", "zsh", "fish" }

--- An integer option: `value` (a string) within [min, max], or nil and a message.
-- @tparam string name the option's name, for the message
-- @tparam string value
-- @tparam integer min
-- @tparam[opt] integer max
function args.integer(name, value, min, max)
  local n = value:match("^%d+$") and tonumber(value)
  if not n or n < min or (max and n > max) then
    local range = max and ("between " .. min .. " and " .. max) or ("at least " .. min)
    return nil, "--" .. name .. " must be an integer " .. range .. ", got " .. string.format("%q", value)
  end
  return n
end

-- A converter for argparse: an integer in [min, max].
local function integer(name, min, max)
  return function(value) return args.integer(name, value, min, max) end
end

-- A converter for argparse: a TIME (see the help), as epoch seconds.
local function time(name)
  return function(value)
    local t, err = clitime.parse(value, os.time())
    if not t then return nil, "--" .. name .. ": " .. err end
    return t
  end
end

local function not_empty(name)
  return function(value)
    if value == "" then return nil, "--" .. name .. " must not be empty" end
    return value
  end
end

local function readable_file(name)
  return function(value)
    local f = value ~= "" and io.open(value, "rb")
    if not f then return nil, "--" .. name .. ": cannot read " .. string.format("%q", value) end
    f:close()
    return value
  end
end

local ENVIRONMENT = [[
Environment:
   ACEDATACLOUD_PLATFORM_TOKEN  the platform token (platform-v1-...); required
   PLATFORM_API_BASE_URL        the API root (default https://platform.acedata.cloud)
   PLATFORM_REQUEST_TIMEOUT     seconds for one request (default 30)
   CURL_CA_BUNDLE, SSL_CERT_FILE  a PEM file of the CAs to trust (as --ca-file; first one set)
   https_proxy, http_proxy, no_proxy  a proxy, as for curl
   ACEDATA_LOG                  debug (every attempt) or info (failures and retries) on stderr

Exit status: 0 done, 1 the API, the network or the output failed, 2 wrong usage.]]

local TIMES = [[
TIME is ISO 8601 (2024-08-01T00:00:00Z, 2024-08-01T02:00:00+02:00; no zone means UTC), a date
(2024-08-01, midnight UTC), or a time before now: 30s, 15m, 12h, 7d, 2w; or "now".

Records stream as they arrive: csv and jsonl write one line per record, json one array, table
fixed-width columns (csv and table show a fixed set of columns, jsonl and json every field).
Amounts: table shows 4 decimals; csv, jsonl and json the exact value. With --group-by, json is
an array of {"<group>": key, "count", "used", "deducted"} objects and a last {"total": true, ...};
jsonl the same objects one per line; csv and table end with a TOTAL row. While records are
fetched, a progress line is shown on stderr when it is a terminal.]]

-- The options every command that calls the API shares: output and connection.
-- (Returned as values, so they can be put in a help group.)
local function output_options(cmd, formats)
  return cmd:option("--format", "Output format."):choices(formats or format.NAMES):default("table"):argname("F"),
    cmd:option("--output", "Write to FILE instead of standard output (only once complete: a failed "
      .. "run leaves FILE as it was)."):argname("FILE")
end

local function connection_options(cmd)
  return cmd:option("--ca-file", "Trust the CAs in this PEM file (a company CA, a TLS-inspecting proxy); "
    .. "default $CURL_CA_BUNDLE, then $SSL_CERT_FILE."):argname("FILE"):convert(readable_file("ca-file"))
end

--- Builds the parser. Returns it and a table: parser -> its command path ("" for the root,
-- "usage proxies", …), used for help hints.
-- @treturn table the argparse parser
-- @treturn table paths
function args.build()
  local paths = {}
  local p = argparse("acedata", "AceData Cloud proxy usage records from the command line.")
    :epilog(ENVIRONMENT)
    :command_target("command")
    :help_max_width(100)
  paths[p] = ""
  p:flag("--version", "Show the version and exit.")

  local usage = p:command("usage", "Proxy usage records."):command_target("subcommand")
  paths[usage] = "usage"

  local proxies = usage:command("proxies", "List proxy usage records (GET /api/v1/usage/proxies/), every "
    .. "page, newest first by default; or, with --group-by, their count and amounts per group and in total.")
    :epilog(TIMES .. "\n\n" .. ENVIRONMENT)
  paths[proxies] = "usage proxies"
  proxies:group("Filters",
    proxies:option("--application-id", "Only this application (repeat for several)."):count("*"):argname("ID"),
    proxies:option("--proxy-id", "Only this proxy (repeat for several)."):count("*"):argname("ID"),
    proxies:option("--user-id", "Whose records: an id, or me (the default: the token's owner)."):argname("ID")
      :convert(not_empty("user-id")),
    proxies:option("--from", "Created at or after TIME."):argname("TIME"):convert(time("from")),
    proxies:option("--to", "Created at or before TIME."):argname("TIME"):convert(time("to")),
    proxies:option("--ordering", "Order of the records."):argname("F")
      :choices { "-created_at", "created_at", "used_amount", "-used_amount", "deducted_amount", "-deducted_amount" },
    proxies:option("--max-items", "Stop after N records."):argname("N"):convert(integer("max-items", 0))
  )
  local formats = { "html" }   -- html: the report page (acedata.report.html)
  for i, name in ipairs(format.NAMES) do table.insert(formats, i, name) end
  local fmt, output = output_options(proxies, formats)
  proxies:group("Output", fmt, output,
    proxies:option("--group-by", "Count, used and deducted per group (UTC days and months), sorted, and a "
      .. "total row."):choices(group.NAMES):argname("G"),
    proxies:option("--chart", "A stacked bar chart of deducted credits per PERIOD (UTC; default day) and "
      .. "service, with totals and a legend (docs/reports.md); with --format html, the page's period.")
      :args("?"):choices(reports.PERIODS):default("day"):defmode("arg"):argname("PERIOD")
  )
  proxies:group("Connection",
    connection_options(proxies),
    proxies:option("--concurrency", "Pages fetched at once: auto (the default: as many as the server "
      .. "serves best, at most 16, slowing down on 429s and queueing) or a fixed N (1-16)."):argname("N|auto")
      :default("auto"):convert(function(value)
        if value == "auto" then return "auto" end
        return args.integer("concurrency", value, 1, 16)
      end),
    proxies:option("--page-size", "Records per page (at most 1000)."):argname("N"):default("100")
      :convert(integer("page-size", 1, 1000))
  )

  local proxy = usage:command("proxy", "Show one proxy usage record (GET /api/v1/usage/proxies/ID).")
    :epilog(ENVIRONMENT)
  paths[proxy] = "usage proxy"
  proxy:argument("id", "The record's id."):convert(not_empty("ID"))
  output_options(proxy)
  connection_options(proxy)

  local me = p:command("me", "Show the owner of the token (GET /api/v1/platform-tokens/me/): id, "
    .. "username, email, ...")
    :epilog(ENVIRONMENT)
  paths[me] = "me"
  output_options(me)
  connection_options(me)

  local completion = p:command("completion", "Print a shell completion script, e.g. "
    .. "`source <(acedata completion bash)` or `acedata completion fish > ~/.config/fish/completions/acedata.fish`.")
  paths[completion] = "completion"
  completion:argument("shell", "The shell."):choices(args.SHELLS)

  local help = p:command("help", "Show the help of a command, e.g. `acedata help usage proxies`.")
  paths[help] = "help"
  help:argument("words", "The command."):args("*"):argname("COMMAND")

  for parser in pairs(paths) do
    -- Help raises instead of printing and exiting (argparse's default): main writes it.
    parser:add_help { action = function() error({ exit = 0, output = parser:get_help() .. "\n" }, 0) end }
    -- An option that takes one value, given twice, is a mistake (argparse would keep the last).
    for _, option in ipairs(parser._options) do
      if option._maxcount == 1 and option._minargs > 0 then option:overwrite(false) end
    end
  end
  return p, paths
end

--- The parser of a command path ("usage proxies"), or nil.
-- @tparam table paths from args.build
-- @tparam string path
function args.find(paths, path)
  for parser, name in pairs(paths) do
    if name == path then return parser end
  end
  return nil
end

--- Parses `argv` (from index 1). Returns argparse's result table and the command's path
-- ("usage proxies", "usage proxy", "me", "completion", "help"); raises as the module doc says.
-- @tparam table argv array of strings
-- @treturn table result options by target (`application_id`, `max_items`, …)
-- @treturn string the command's path
-- @treturn table the parser (for completion scripts and help)
-- @treturn table paths
function args.parse(argv)
  local p, paths = args.build()
  p.error = function(parser, msg)
    local name = paths[parser] or ""
    local run = "acedata " .. (name ~= "" and (name .. " ") or "") .. "--help"
    error({ exit = 2, message = msg .. "\n" .. parser:get_usage() .. "\nRun \"" .. run .. "\" for help." }, 0)
  end
  local list = {}
  for i = 1, #argv do list[i] = argv[i] end
  -- --version is a root flag; answered before any check of the rest, like --help.
  if list[1] == "--version" then
    error({ exit = 0, output = "acedata " .. require("acedata")._VERSION .. "\n" }, 0)
  end
  local result = p:parse(list)
  if result.version then
    error({ exit = 0, output = "acedata " .. require("acedata")._VERSION .. "\n" }, 0)
  end
  local path = result.command
  if result.subcommand then path = path .. " " .. result.subcommand end
  return result, path, p, paths
end

return args
