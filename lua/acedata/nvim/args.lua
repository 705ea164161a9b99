--- `:AceDataUsage` arguments -> the filters and options of `usage.proxies.all{}`.
-- Pure Lua (no `vim`).
--
--    application_id=ID proxy_id=ID   repeatable: several are OR-ed (sent as repeated keys)
--    from=2024-08-01 to=2024-08-31   created_at_from / created_at_to; a bare date means the start
--                                    (from) or the end (to, 23:59:59.999999Z) of that UTC day
--    created_at_from=… created_at_to=…   the same, sent as given
--    user_id=me|ID|all               "all" sends no user_id (tokens that may list everyone's)
--    ordering=-created_at  max_items=N  page_size=N  concurrency=N|auto
-- @module acedata.nvim.args

local args = {}

local ALIASES = { from = "created_at_from", to = "created_at_to" }
local LISTS = { application_id = true, proxy_id = true }
local STRINGS = { created_at_from = true, created_at_to = true, user_id = true, ordering = true }
local INTEGERS = { max_items = true, page_size = true, concurrency = true }

--- The names `parse` accepts, for completion.
args.NAMES = { "application_id=", "proxy_id=", "from=", "to=", "created_at_from=", "created_at_to=",
  "user_id=", "ordering=", "max_items=", "page_size=", "concurrency=" }

local function day_bound(value, key)
  if not value:match("^%d%d%d%d%-%d%d%-%d%d$") then return value end
  if key == "created_at_to" then return value .. "T23:59:59.999999Z" end
  return value .. "T00:00:00Z"
end

--- Parses `name=value` words.
-- @tparam string|table input the command's argument string, or its words
-- @treturn table filters and options for `usage.proxies.all{}`, or nil and a message
function args.parse(input)
  local words = input
  if type(input) == "string" then
    words = {}
    for w in input:gmatch("%S+") do words[#words + 1] = w end
  end
  local out = {}
  for _, w in ipairs(words) do
    local name, value = w:match("^([%w_]+)=(.*)$")
    if not name then return nil, ("expected name=value, got %q"):format(w) end
    local alias = ALIASES[name]
    local key = alias or name
    if value == "" then return nil, ("%s needs a value"):format(name) end
    if LISTS[key] then
      out[key] = out[key] or {}
      table.insert(out[key], value)
    elseif STRINGS[key] then
      if key == "user_id" and value == "all" then
        out.user_id = false
      else
        out[key] = alias and day_bound(value, key) or value
      end
    elseif key == "concurrency" and value == "auto" then
      out.concurrency = "auto"
    elseif INTEGERS[key] then
      local n = tonumber(value)
      if not n or n ~= math.floor(n) or n < 0 or (key ~= "max_items" and n < 1) then
        return nil, ("%s must be a%s integer, got %q"):format(name, key == "max_items" and " non-negative" or " positive", value)
      end
      out[key] = math.floor(n)
    else
      return nil, ("unknown filter %q; known: %s"):format(name, (table.concat(args.NAMES, " "):gsub("=", "")))
    end
  end
  return out
end

--- The filters as words again (for the report's title).
function args.format(filters)
  local keys = {}
  for k in pairs(filters) do keys[#keys + 1] = k end
  table.sort(keys)
  local words = {}
  for _, k in ipairs(keys) do
    local v = filters[k]
    if type(v) == "table" then
      for _, x in ipairs(v) do words[#words + 1] = k .. "=" .. tostring(x) end
    elseif v == false and k == "user_id" then
      words[#words + 1] = "user_id=all"
    else
      words[#words + 1] = k .. "=" .. tostring(v)
    end
  end
  return table.concat(words, " ")
end

return args
