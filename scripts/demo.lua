-- Driven by scripts/demo: the README's examples against the mock, then a check of the totals.
local acedata = require "acedata"

print("-- examples/list.lua: the first page, as in the API documentation")
dofile("examples/list.lua")

print("\n-- examples/totals.lua: every record through usage.proxies.each{}")
local totals = dofile("examples/totals.lua")

-- The mock's own totals of its data set.
local url = os.getenv("PLATFORM_API_BASE_URL") .. "/__mock/totals"
local p = assert(io.popen("curl -sf " .. url))
local want = assert(acedata.decode(p:read("*a")))
p:close()

local problems = {}
local function check(what, got, expected)
  if got ~= expected then problems[#problems + 1] = ("%s: module %s, mock %s"):format(what, got, expected) end
end
check("records", totals.total.count, want.count)
check("used", totals.total.used, want.used)
check("deducted", totals.total.deducted, want.deducted)
for _, svc in ipairs(require("mock.dataset").SERVICES) do
  local got = totals.by_service[svc.name] or { count = 0, deducted = 0 }
  local expected = want.by_service[svc.alias] or { count = 0, deducted = 0 }
  check(svc.name .. " records", got.count, expected.count)
  check(svc.name .. " deducted", got.deducted, expected.deducted)
end
if #problems > 0 then
  io.stderr:write("\nTotals do NOT match the mock's data:\n  ", table.concat(problems, "\n  "), "\n")
  os.exit(1)
end
print(("\nTotals match the mock's data set: %d records, %.4f credits deducted."):format(want.count, want.deducted))
