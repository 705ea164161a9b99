--- `--group-by`: count, used and deducted amounts per service, application, proxy, day or month,
-- and their total. Only the groups are kept, never the records.
--
--    local g = group.new("service")
--    for rec in client.usage.proxies.each{} do g:add(rec) end
--    for _, row in ipairs(g:rows()) do … end   -- {key, count, used, deducted}, sorted; total last
-- @module acedata.cli.group

local group = {}

group.NAMES = { "service", "application", "proxy", "day", "month" }

local function service(rec)
  local s = rec.service
  if type(s) ~= "table" then return nil end
  local k = s.alias
  if type(k) ~= "string" then k = s.name end
  if type(k) ~= "string" then k = s.id end
  return k
end

--- Record -> its group's key (a string), by name; days and months are UTC, from created_at.
local KEY = {
  service = service,
  application = function(rec) return rec.application_id end,
  proxy = function(rec) return rec.proxy_id end,
  day = function(rec) return type(rec.created_at) == "string" and rec.created_at:sub(1, 10) or nil end,
  month = function(rec) return type(rec.created_at) == "string" and rec.created_at:sub(1, 7) or nil end,
}

--- The record fields a grouping by `by` reads (so only they need decoding).
group.FIELDS = {
  service = { "service", "used_amount", "deducted_amount" },
  application = { "application_id", "used_amount", "deducted_amount" },
  proxy = { "proxy_id", "used_amount", "deducted_amount" },
  day = { "created_at", "used_amount", "deducted_amount" },
  month = { "created_at", "used_amount", "deducted_amount" },
}

local Group = {}
Group.__index = Group

--- A new, empty grouping by `by` (one of group.NAMES).
function group.new(by)
  assert(KEY[by], "unknown group " .. tostring(by))
  return setmetatable({ by = by, key = KEY[by], groups = {},
    total = { count = 0, used = 0, deducted = 0, total = true } }, Group)
end

local function amount(v)
  return type(v) == "number" and v or 0
end

--- Adds one record.
function Group:add(rec)
  local k = self.key(rec)
  if type(k) ~= "string" or k == "" then k = "-" end
  local g = self.groups[k]
  if not g then
    g = { key = k, count = 0, used = 0, deducted = 0 }
    self.groups[k] = g
  end
  local used, deducted = amount(rec.used_amount), amount(rec.deducted_amount)
  g.count, g.used, g.deducted = g.count + 1, g.used + used, g.deducted + deducted
  local t = self.total
  t.count, t.used, t.deducted = t.count + 1, t.used + used, t.deducted + deducted
end

--- The groups sorted by key, then the total (`total = true`).
-- @treturn table rows
-- @treturn integer the length of the longest key
function Group:rows()
  local rows, width = {}, 0
  for _, g in pairs(self.groups) do
    rows[#rows + 1] = g
    width = math.max(width, #g.key)
  end
  table.sort(rows, function(a, b) return a.key < b.key end)
  rows[#rows + 1] = self.total
  return rows, width
end

return group
