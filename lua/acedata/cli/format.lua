--- Output formats of the `acedata` command: table, csv, jsonl, json.
--
-- A writer streams: `w:row(t)` writes one row as soon as it is given (nothing is held), and
-- `w:finish()` closes the output's structure (the JSON array's `]`). Two kinds of rows:
--
--  * records, as the API sends them (`format.records(name, out)`): csv and table show a fixed set
--    of columns (`format.RECORD_COLUMNS`; metadata as JSON text in csv), jsonl and json every field;
--  * summary rows `{ key = …, count = …, used = …, deducted = … }` of `--group-by`
--    (`format.groups(name, out, key_name)`); a row with `total = true` is the total.
--
-- CSV follows RFC 4180: CRLF line ends, fields with a comma, quote, CR or LF quoted, quotes
-- doubled. Amounts: the table format shows `format.AMOUNT_DECIMALS` (4) decimals, like the Neovim
-- report (credits; 0.0001 is finer than any price, and the mock's k/1024 amounts would need 10
-- digits of noise); csv, jsonl and json write every number exactly, as the shortest text that
-- reads back the same (`format.number`): lua-cjson's own number output stops at 14 digits
-- (Debian's 2.1.0), which would print 23781.598632812 for 23781.5986328125. JSON null
-- (acedata.null, the same value as cjson.null) is written as null; strings are escaped by
-- lua-cjson.
-- @module acedata.cli.format

local cjson = require("cjson").new()

local format = {}

format.NAMES = { "table", "csv", "jsonl", "json" }

--- Decimals of amounts in the table format.
format.AMOUNT_DECIMALS = 4

local null = cjson.null
local math_type = math.type  -- luacheck: ignore (nil on 5.1/5.2)

--- The shortest decimal text that reads back as the same number (integers without a fraction).
-- @tparam number x
-- @treturn string
function format.number(x)
  if math_type and math_type(x) == "integer" then return string.format("%d", x) end
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" elseif x == -math.huge then return "-inf" end
  if x == math.floor(x) and x > -2^53 and x < 2^53 then return string.format("%.0f", x) end
  for digits = 15, 16 do
    local s = string.format("%." .. digits .. "g", x)
    if tonumber(s) == x then return s end
  end
  return string.format("%.17g", x)
end

--- An amount for the table format: a fixed number of decimals (other values as they are).
function format.amount(x)
  if type(x) ~= "number" or x ~= x or x == math.huge or x == -math.huge then return nil end
  return string.format("%." .. format.AMOUNT_DECIMALS .. "f", x)
end

local MAX_DEPTH = 1000
local array_mt = false   -- acedata.core.array_mt, when the core is there (decoded arrays may carry it)

-- Appends the JSON text of v to buf (numbers exact, see the module doc).
local function encode_into(buf, v, depth)
  local t = type(v)
  if t == "string" then
    buf[#buf + 1] = cjson.encode(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("cannot write: JSON has no " .. tostring(v), 0)
    end
    buf[#buf + 1] = format.number(v)
  elseif t == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif v == nil or v == null then
    buf[#buf + 1] = "null"
  elseif t == "table" then
    if depth > MAX_DEPTH then error("cannot write: nested deeper than " .. MAX_DEPTH, 0) end
    local n, max = 0, 0
    for k in pairs(v) do
      n = n + 1
      if type(k) == "number" and k > 0 and k == math.floor(k) then
        if k > max then max = k end
      else
        max = -1
      end
    end
    if (n > 0 and max == n) or (n == 0 and array_mt and getmetatable(v) == array_mt) then
      buf[#buf + 1] = "["
      for i = 1, n do
        if i > 1 then buf[#buf + 1] = "," end
        encode_into(buf, v[i], depth + 1)
      end
      buf[#buf + 1] = "]"
    else
      buf[#buf + 1] = "{"
      local first = true
      for k, val in pairs(v) do
        if not first then buf[#buf + 1] = "," end
        first = false
        buf[#buf + 1] = cjson.encode(tostring(k))
        buf[#buf + 1] = ":"
        encode_into(buf, val, depth + 1)
      end
      buf[#buf + 1] = "}"
    end
  else
    error("cannot write: JSON has no " .. t, 0)
  end
end

-- lua-cjson writes a table whose numbers all survive its 14 significant digits (most records:
-- measured ~3x faster than encode_into, and `acedata usage proxies --format jsonl` ~1.2x main's
-- time instead of ~2x with encode_into alone); any other goes through encode_into.
local fast = require("cjson").new()
pcall(fast.encode_number_precision, 14)
local huge, fmt = math.huge, string.format
local function cjson_exact(v, depth)
  if depth > 100 then return false end
  for _, x in pairs(v) do
    local t = type(x)
    if t == "number" then
      if x % 1 ~= 0 or x >= 1e14 or x <= -1e14 then
        if x ~= x or x == huge or x == -huge or tonumber(fmt("%.14g", x)) ~= x then return false end
      end
    elseif t == "table" then
      if getmetatable(x) ~= nil or not cjson_exact(x, depth + 1) then return false end
    end
  end
  return true
end

--- JSON text of a value (a record, a summary row), every number exact.
function format.json(v)
  if type(v) == "table" and getmetatable(v) == nil and cjson_exact(v, 1) then
    local ok, text = pcall(fast.encode, v)
    if ok then return text end
  end
  if array_mt == false then
    local ok, core = pcall(require, "acedata.core")
    array_mt = ok and core.array_mt or nil
  end
  local buf = {}
  encode_into(buf, v, 1)
  return table.concat(buf)
end

--- JSON text with object keys in sorted order, so that equal values give equal text (for the
-- metadata cell of csv, where lua-cjson's hash order would differ from run to run).
function format.json_sorted(v)
  if type(v) ~= "table" then return format.json(v) end
  local n, keys = 0, {}
  for k in pairs(v) do
    n = n + 1
    keys[n] = k
  end
  if n > 0 and #v == n then
    local items = {}
    for i = 1, n do items[i] = format.json_sorted(v[i]) end
    return "[" .. table.concat(items, ",") .. "]"
  end
  for i = 1, n do keys[i] = tostring(keys[i]) end
  table.sort(keys)
  local items = {}
  for i, k in ipairs(keys) do
    local val = v[k]
    if val == nil then val = v[tonumber(k)] end
    items[i] = cjson.encode(k) .. ":" .. format.json_sorted(val)
  end
  return "{" .. table.concat(items, ",") .. "}"
end

-- Field -> text for csv and table cells.
local function text(v)
  local t = type(v)
  if v == nil or v == null then return ""
  elseif t == "number" then return format.number(v)
  elseif t == "string" then return v
  elseif t == "boolean" then return tostring(v)
  elseif t == "table" then return format.json_sorted(v)
  end
  return tostring(v)
end

--- One CSV field, quoted when needed (RFC 4180).
function format.csv_field(s)
  if s:find('[,"\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function csv_line(fields)
  local out = {}
  for i = 1, #fields do out[i] = format.csv_field(fields[i]) end
  return table.concat(out, ",") .. "\r\n"
end

--- The record columns of csv (all) and table (those with a width).
format.RECORD_COLUMNS = {
  { name = "id", width = 36 },
  { name = "created_at", width = 27 },
  { name = "service", path = { "service", "alias" }, width = 14 },
  { name = "service_name", path = { "service", "name" } },
  { name = "application_id", width = 8, label = "app" },
  { name = "proxy_id", width = 8, label = "proxy" },
  { name = "credential_id" },
  { name = "user_id" },
  { name = "used_amount", width = 16, label = "used", right = true, amount = true },
  { name = "deducted_amount", width = 16, label = "deducted", right = true, amount = true },
  { name = "original_amount" },
  { name = "remaining_amount" },
  { name = "elapsed" },
  { name = "trace_id" },
  { name = "updated_at" },
  { name = "metadata" },
}

--- The record fields a format prints, or nil for every field (csv, jsonl, json).
function format.fields(name)
  if name ~= "table" then return nil end
  local list = {}
  for _, col in ipairs(format.RECORD_COLUMNS) do
    if col.width then list[#list + 1] = col.path and col.path[1] or col.name end
  end
  return list
end

local function field(rec, col)
  if not col.path then return rec[col.name] end
  local v = rec
  for _, k in ipairs(col.path) do
    if type(v) ~= "table" then return nil end
    v = v[k]
  end
  return v
end

local function pad(s, width, right)
  if #s > width then s = s:sub(1, width) end
  local fill = string.rep(" ", width - #s)
  if right then return fill .. s end
  return s .. fill
end

-- Table: fixed-width columns, so rows can be printed as they come.
local function table_line(cols, cells)
  local out = {}
  for i, col in ipairs(cols) do out[i] = pad(cells[i], col.width, col.right) end
  return (table.concat(out, "  "):gsub("%s+$", "")) .. "\n"
end

local Writer = {}
Writer.__index = Writer

-- Files report write errors (a full disk, a closed pipe) by returning nil, message: raise them.
local function write(out, s)
  local ok, err = out:write(s)
  if not ok then error("cannot write: " .. tostring(err), 0) end
end

function Writer:row(t)
  self.n = self.n + 1
  write(self.out, self.line(t, self.n))
end

function Writer:finish()
  if self.tail then write(self.out, self.tail(self.n)) end
  local ok, err = self.out:flush()
  if not ok then error("cannot write: " .. tostring(err), 0) end
end

local function new_writer(out, head, line, tail)
  if head then write(out, head) end
  return setmetatable({ out = out, n = 0, line = line, tail = tail }, Writer)
end

-- jsonl and json writers (the same for records and summary rows).
local function json_writer(name, out, encode)
  if name == "jsonl" then
    return new_writer(out, nil, function(t) return encode(t) .. "\n" end)
  end
  return new_writer(out, "[", function(t, n)
    return (n == 1 and "\n" or ",\n") .. encode(t)
  end, function(n) return n == 0 and "]\n" or "\n]\n" end)
end

--- A writer of records in format `name` to the file `out`.
function format.records(name, out)
  if name == "jsonl" or name == "json" then return json_writer(name, out, format.json) end
  local cols = {}
  for _, col in ipairs(format.RECORD_COLUMNS) do
    if name == "csv" or col.width then cols[#cols + 1] = col end
  end
  local amounts = name == "table"
  local function cells(rec)
    local c = {}
    for i, col in ipairs(cols) do
      local v = field(rec, col)
      c[i] = amounts and col.amount and format.amount(v) or text(v)
    end
    return c
  end
  if name == "csv" then
    local head = {}
    for i, col in ipairs(cols) do head[i] = col.name end
    return new_writer(out, csv_line(head), function(rec) return csv_line(cells(rec)) end)
  end
  local head = {}
  for i, col in ipairs(cols) do head[i] = col.label or col.name end
  return new_writer(out, table_line(cols, head), function(rec) return table_line(cols, cells(rec)) end)
end

--- A writer of summary rows (`--group-by`) in format `name`; `key_name` names the key column
-- (service, application, proxy, day, month). Rows come sorted, the total last.
-- @param width the widest key, for the table format
function format.groups(name, out, key_name, width)
  local function as_object(t)
    local o = { count = t.count, used = t.used, deducted = t.deducted }
    if t.total then o.total = true else o[key_name] = t.key end
    return o
  end
  if name == "jsonl" or name == "json" then
    return json_writer(name, out, function(t) return format.json(as_object(t)) end)
  end
  local function cells(t)
    return { t.total and "TOTAL" or t.key, string.format("%d", t.count), format.number(t.used),
      format.number(t.deducted) }
  end
  local function table_cells(t)
    return { t.total and "TOTAL" or t.key, string.format("%d", t.count), format.amount(t.used),
      format.amount(t.deducted) }
  end
  if name == "csv" then
    return new_writer(out, csv_line { key_name, "count", "used", "deducted" },
      function(t) return csv_line(cells(t)) end)
  end
  local cols = { { width = math.max(width or 0, #key_name, 5) }, { width = 10, right = true },
    { width = 20, right = true }, { width = 20, right = true } }
  local rule = {}
  for i, col in ipairs(cols) do rule[i] = string.rep("-", col.width) end
  return new_writer(out, table_line(cols, { key_name, "count", "used", "deducted" }), function(t)
    local line = table_line(cols, table_cells(t))
    if t.total then line = table.concat(rule, "  ") .. "\n" .. line end
    return line
  end)
end

--- A writer for one object (`usage proxy ID`, `me`): json and jsonl write it as one line,
-- csv as a header and a row of its fields (nested tables as JSON), table as `name  value` lines.
function format.object(name, out, obj)
  if name == "json" or name == "jsonl" then
    out:write(format.json(obj), "\n")
    return
  end
  local keys = {}
  for k in pairs(obj) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  if name == "csv" then
    local values = {}
    for i, k in ipairs(keys) do values[i] = text(obj[k]) end
    out:write(csv_line(keys), csv_line(values))
    return
  end
  local width = 0
  for _, k in ipairs(keys) do width = math.max(width, #k) end
  for _, k in ipairs(keys) do
    local v = obj[k]
    out:write(pad(k, width), "  ", k:find("_amount$") and format.amount(v) or text(v), "\n")
  end
end

return format
