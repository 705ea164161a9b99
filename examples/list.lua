-- The API documentation's Python example, in Lua: one page of proxy usage records.
-- Run: ACEDATACLOUD_PLATFORM_TOKEN=… lua5.4 examples/list.lua
local acedata = require "acedata"

local page = assert(acedata.usage.proxies {})
for _, usage in ipairs(page.results) do
  print(("Proxy: %s | Consumption: %s"):format(usage.service.name, usage.deducted_amount))
end
