--- The progress line of the `acedata` command: records so far of the total, rate and ETA,
-- rewritten in place with `\r` on stderr, at most a few times a second. Only for terminals.
-- @module acedata.cli.progress

local progress = {}

--- Is file descriptor `fd` a terminal? (Asked once through `test -t`.)
function progress.isatty(fd)
  local ok, how, code = os.execute("test -t " .. tonumber(fd))
  if type(ok) == "number" then return ok == 0 end      -- Lua 5.1
  return ok == true and how == "exit" and code == 0
end

local function thousands(n)
  local s = string.format("%d", n)
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function duration(s)
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%dh%02dm", math.floor(s / 3600), math.floor(s % 3600 / 60)) end
  if s >= 60 then return string.format("%dm%02ds", math.floor(s / 60), s % 60) end
  return string.format("%ds", s)
end

--- The text of the line: "12,300 / 100,000 records  8,120/s  ETA 10s".
-- @tparam integer n records so far
-- @tparam[opt] integer total records expected, when known
-- @tparam number elapsed seconds since the start
function progress.text(n, total, elapsed)
  local rate = elapsed > 0 and n / elapsed or 0
  local parts = { thousands(n) }
  if total then parts[#parts + 1] = " / " .. thousands(total) end
  parts[#parts + 1] = " records  " .. thousands(math.floor(rate + 0.5)) .. "/s"
  if total and rate > 0 and n < total then
    parts[#parts + 1] = "  ETA " .. duration((total - n) / rate)
  end
  return table.concat(parts)
end

local Line = {}
Line.__index = Line

--- A progress line on `out` (a file), timed by `now` (seconds, monotonic); `every` seconds
-- between updates (default 0.2).
function progress.new(out, now, total, every)
  local t = now()
  return setmetatable({ out = out, now = now, total = total, start = t, next = t + (every or 0.2),
    every = every or 0.2, width = 0, n = 0 }, Line)
end

function Line:draw()
  local s = progress.text(self.n, self.total, self.now() - self.start)
  local fill = self.width > #s and string.rep(" ", self.width - #s) or ""
  self.width = #s
  self.out:write("\r", s, fill)
  self.out:flush()
end

--- Counts one more record; redraws when it is time.
function Line:tick()
  local n = self.n + 1
  self.n = n
  if n % 64 == 0 then
    local t = self.now()
    if t >= self.next then
      self.next = t + self.every
      self:draw()
    end
  end
end

--- Erases the line.
function Line:clear()
  if self.width > 0 then
    self.out:write("\r", string.rep(" ", self.width), "\r")
    self.out:flush()
    self.width = 0
  end
end

return progress
