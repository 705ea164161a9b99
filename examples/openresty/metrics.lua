--- Metrics of acedata's requests in an nginx shared dict, fed by the client option `on_response`:
-- every worker adds to the same counters, and a location serves them as Prometheus text.
--
--    local metrics = require "metrics"            -- this file, on lua_package_path
--    local client = acedata.new { on_response = metrics.hook("acedata_metrics") }
--    ...
--    ngx.print(metrics.prometheus("acedata_metrics"))
--
-- Counters: acedata_attempts_total{status="200"} (status "-" with the kind for a transport failure
-- or a refusing proxy: kind="network"|"timeout"|"tls"|"proxy"), acedata_retries_total,
-- acedata_attempt_milliseconds_sum. on_response runs inside the request's own phase and never
-- blocks (shared dict operations only); what it raises would be dropped by acedata.
-- @module metrics

-- luacheck: read globals ngx
local metrics = {}

--- An on_response function that counts into the shared dict `dict_name` (lua_shared_dict).
-- @tparam string dict_name
-- @treturn function
function metrics.hook(dict_name)
  local dict = assert(ngx.shared[dict_name], "no lua_shared_dict " .. dict_name)
  return function(info)
    if info.event == "retry" then
      dict:incr("retries", 1, 0)
      return
    end
    local key = "attempts|" .. (info.status and tostring(info.status) or "-") .. "|" .. (info.kind or "")
    dict:incr(key, 1, 0)
    dict:incr("ms_sum", info.ms, 0)
  end
end

--- The counters as Prometheus text exposition lines, sorted.
-- @tparam string dict_name
-- @treturn string
function metrics.prometheus(dict_name)
  local dict = ngx.shared[dict_name]
  local lines = {}
  for _, key in ipairs(dict:get_keys(0)) do
    local value = dict:get(key)
    local status, kind = key:match("^attempts|([^|]*)|(.*)$")
    if status then
      local labels = 'status="' .. status .. '"' .. (kind ~= "" and (',kind="' .. kind .. '"') or "")
      lines[#lines + 1] = "acedata_attempts_total{" .. labels .. "} " .. string.format("%d", value)
    elseif key == "retries" then
      lines[#lines + 1] = "acedata_retries_total " .. string.format("%d", value)
    elseif key == "ms_sum" then
      lines[#lines + 1] = "acedata_attempt_milliseconds_sum " .. string.format("%.3f", value)
    end
  end
  table.sort(lines)
  return table.concat(lines, "\n") .. "\n"
end

return metrics
