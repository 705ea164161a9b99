--- Command-line parsing for `acedata`: long options (`--name value`, `--name=value`), repeatable
-- options, flags, `--` to end options, `-h` for `--help`.
--
--    local opts, rest = args.parse(argv, { ["application-id"] = { many = true }, help = { flag = true } })
--    -- opts["application-id"] = { "a", "b" }, rest = positional arguments
--
-- Misuse returns `nil, message`: the caller prints the message and exits with status 2.
-- @module acedata.cli.args

local args = {}

--- Parses `argv` (from index `first`, default 1) against `spec`.
-- @tparam table argv array of strings
-- @tparam table spec option name (without `--`) -> `{ flag = true }` | `{ many = true }` | `{}` |
--   `{ optional = {choices} }` (a value only when the next argument is one of the choices, else true)
-- @tparam[opt] integer first index of the first argument to read
-- @treturn table options by name (a list for `many`, true for flags, else a string)
-- @treturn table positional arguments, in order
-- @return or nil and a message
function args.parse(argv, spec, first)
  local opts, rest = {}, {}
  local i, n = first or 1, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, n do rest[#rest + 1] = argv[j] end
      break
    elseif a == "-h" then
      a = "--help"
    end
    local name, value = a:match("^%-%-([%w][%w%-]*)=(.*)$")
    if not name then name = a:match("^%-%-([%w][%w%-]*)$") end
    if name then
      local s = spec[name]
      if not s then return nil, "unknown option --" .. name end
      if s.flag then
        if value then return nil, "--" .. name .. " takes no value" end
        opts[name] = true
      elseif s.optional and not value then
        -- an optional value: the next argument when it is one of s.optional, else true
        local nxt = argv[i + 1]
        local taken = false
        for _, c in ipairs(s.optional) do
          if c == nxt then taken = true end
        end
        if opts[name] ~= nil then return nil, "--" .. name .. " given twice" end
        if taken then
          i = i + 1
          opts[name] = nxt
        else
          opts[name] = true
        end
      else
        if not value then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, "--" .. name .. " needs a value" end
        end
        if s.many then
          local list = opts[name] or {}
          list[#list + 1] = value
          opts[name] = list
        elseif opts[name] ~= nil then
          return nil, "--" .. name .. " given twice"
        else
          opts[name] = value
        end
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option " .. a
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

--- An integer option: `value` (a string) within [min, max], or nil and a message.
-- @tparam string name the option's name, for the message
-- @tparam string value
-- @tparam integer min
-- @tparam[opt] integer max
function args.integer(name, value, min, max)
  local n = value:match("^%d+$") and tonumber(value)
  if not n or n < min or (max and n > max) then
    local range = max and ("between " .. min .. " and " .. max) or ("at least " .. min)
    return nil, "--" .. name .. " must be an integer " .. range .. ", got " .. string.format("%q", value)
  end
  return n
end

--- Is `value` one of the strings of the array `choices`?
-- @treturn string|nil value, or nil and a message naming the choices
function args.choice(name, value, choices)
  for _, c in ipairs(choices) do
    if c == value then return value end
  end
  return nil, "--" .. name .. " must be one of " .. table.concat(choices, ", ") .. ", got "
    .. string.format("%q", value)
end

return args
