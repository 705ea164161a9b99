--- Small statistics for specs.
local stats = {}

--- The median of a list of numbers (the lower one of the middle two); the list is not changed.
function stats.median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  return s[math.floor((#s + 1) / 2)]
end

return stats
