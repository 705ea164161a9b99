--- `--group-by`: count, used and deducted amounts per service, application, proxy, day or month,
-- and their total. A thin view of the report model (acedata.report.model), which
-- defines the keys (the service of a record: alias, else name, else id; periods in UTC; records
-- without the key under "-"). Only the groups are kept, never the records.
--
--    local g = group.new("service")
--    for rec in client.usage.proxies.each{} do g:add(rec) end
--    for _, row in ipairs(g:rows()) do … end   -- {key, count, used, deducted}, sorted; total last
-- @module acedata.cli.group

local model = require "acedata.report.model"

local group = {}

group.NAMES = { "service", "application", "proxy", "day", "month" }

local FIELD = { service = "service", application = "application_id", proxy = "proxy_id" }

--- The record fields a grouping by `by` reads (so only they need decoding).
group.FIELDS = {}
for _, by in ipairs(group.NAMES) do
  group.FIELDS[by] = { FIELD[by] or "created_at", "used_amount", "deducted_amount" }
end

local Group = {}
Group.__index = Group

--- A new, empty grouping by `by` (one of group.NAMES).
function group.new(by)
  assert(group.FIELDS[by], "unknown group " .. tostring(by))
  local report = model.new { period = FIELD[by] and "day" or by }
  return setmetatable({ by = by, report = report }, Group)
end

--- Adds one record.
function Group:add(rec)
  self.report:add(rec)
end

--- The groups sorted by key, then the total (`total = true`).
-- @treturn table rows `{key, count, used, deducted}`
-- @treturn integer the length of the longest key
function Group:rows()
  local rows, width = {}, 0
  for _, b in ipairs(self.report:rows(self.by)) do
    rows[#rows + 1] = { key = b.key, count = b.count, used = b.used, deducted = b.deducted }
    width = math.max(width, #b.key)
  end
  local t = self.report.total
  rows[#rows + 1] = { count = t.count, used = t.used, deducted = t.deducted, total = true }
  return rows, width
end

return group
