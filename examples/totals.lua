-- Totals per service over every record, through the lazy iterator.
-- Run: ACEDATACLOUD_PLATFORM_TOKEN=… lua5.4 examples/totals.lua [created_at_from]
local acedata = require "acedata"

local by_service, names = {}, {}
local all = { count = 0, used = 0, deducted = 0 }
for rec in acedata.usage.proxies.each { created_at_from = arg[1], page_size = 100 } do
  local name = rec.service.name
  local t = by_service[name]
  if not t then
    t = { count = 0, used = 0, deducted = 0 }
    by_service[name] = t
    names[#names + 1] = name
  end
  for _, acc in ipairs { t, all } do
    acc.count = acc.count + 1
    acc.used = acc.used + rec.used_amount
    acc.deducted = acc.deducted + rec.deducted_amount
  end
end
table.sort(names)

print(("%-16s %8s %14s %14s"):format("service", "records", "used", "deducted"))
for _, name in ipairs(names) do
  local t = by_service[name]
  print(("%-16s %8d %14.4f %14.4f"):format(name, t.count, t.used, t.deducted))
end
print(("%-16s %8d %14.4f %14.4f"):format("total", all.count, all.used, all.deducted))

return { by_service = by_service, total = all }
