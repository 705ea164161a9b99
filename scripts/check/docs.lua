-- Run by scripts/check/docs: every public member of each file LDoc renders (config.ld's `file`)
-- has a doc comment. A public member is what the file's module table gets at the top level:
-- `function M.name(`, `function M:name(`, `M.name = …`, or a `name = …` entry of the table
-- constructor `local M = { … }`, where M is the table the file returns. Prints one line per file,
-- "ok   <file>" or "FAIL <file>: <names>", and exits 1 when one failed.
--   lua5.4 scripts/check/docs.lua ITEMS_FILE   (ITEMS_FILE: what ldoc_items.lua wrote)
local items_file = assert(arg[1], "usage: docs.lua ITEMS_FILE")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function config_files()
  local env = {}
  assert(load(read("config.ld"), "@config.ld", "t", env))()
  return assert(env.file, "config.ld has no file = { … }")
end

-- public_members(text) -> list of names, module table's name
local function public_members(text)
  local var = assert(text:match("\nreturn%s+([%a_][%w_]*)%s*$"), "the file does not end with `return <table>`")
  local names, seen = {}, {}
  local function add(name)
    if not seen[name] then seen[name] = true; names[#names + 1] = name end
  end
  local in_ctor = false
  for line in (text .. "\n"):gmatch("(.-)\n") do
    if in_ctor then
      if line:match("^}") then
        in_ctor = false
      else
        local name = line:match("^  ([%a_][%w_]*)%s*=")
        if name then add(name) end
      end
    elseif line:match("^local " .. var .. "%s*=%s*{%s*$") then
      in_ctor = true
    else
      local name = line:match("^function " .. var .. "[%.:]([%a_][%w_]*)%s*%(")
        or line:match("^" .. var .. "%.([%a_][%w_]*)%s*=")
      if name then add(name) end
    end
  end
  return names, var
end

local documented = {}  -- documented[file][name] = summary length
for line in io.lines(items_file) do
  local file, name, len = line:match("^(.-)\t(.-)\t(%d+)$")
  if file then
    local short = file:match("(lua/.*)$") or file
    documented[short] = documented[short] or {}
    documented[short][name] = tonumber(len)
  end
end

local failed = 0
for _, path in ipairs(config_files()) do
  local docs = documented[path] or {}
  local missing = {}
  if not docs["@module " .. (read(path):match("\n%-%- @module ([%w%._]+)") or "?")] then
    missing[#missing + 1] = "(no @module doc comment)"
  end
  local names = public_members(read(path))
  for _, name in ipairs(names) do
    if not docs[name] or docs[name] == 0 then missing[#missing + 1] = name end
  end
  if #missing == 0 then
    print(("ok   %s: %d public members, each with a doc comment"):format(path, #names))
  else
    failed = failed + 1
    print(("FAIL %s: no doc comment for %s"):format(path, table.concat(missing, ", ")))
  end
end
os.exit(failed == 0 and 0 or 1)
