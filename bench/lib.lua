--- Helpers shared by bench/e2e and bench/memory: the mock's life, children with a secret
-- environment, a command's peak RSS, a process's CPU time.
--
-- The token goes to children through a 0600 file sourced by sh, never a command line.
local lib = {}

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
lib.ROOT = here .. "/.."

function lib.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function lib.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Runs a shell command and returns its stdout (and whether it exited 0).
function lib.capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  local ok = p:close()
  return out, ok == true or ok == 0
end

local function now()
  local ok, core = pcall(require, "acedata.core")
  if ok then return core.now() end
  return os.time()
end
lib.now = now

--- A private file (0600, made so before anything is written) holding `text`; returns its path.
function lib.private_file(text, suffix)
  local path = os.tmpname()
  os.remove(path)
  path = path .. (suffix or "")
  assert(os.execute("umask 077 && : > " .. lib.quote(path)))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

--- An environment file exporting `vars` (name -> value), 0600.
function lib.env_file(vars)
  local lines = {}
  for k, v in pairs(vars) do lines[#lines + 1] = "export " .. k .. "=" .. lib.quote(v) end
  return lib.private_file(table.concat(lines, "\n") .. "\n", ".env")
end

-- The measuring parent of lib.run: starts GNU time (for the peak RSS: python's own would count in
-- a child forked from it) on `sh -c cmd` with posix_spawn, waits for it with wait4 and writes
-- the peak RSS (kB), the user and system CPU seconds of it all (GNU time's own ~1 ms included,
-- for every client alike; to the microsecond where GNU time prints hundredths) and the wall
-- seconds from the start to the exit (python's own start-up not in it) to argv[1].
local MEASURE = [==[
import os, sys, time
out, rssfile = sys.argv[1], sys.argv[1] + ".rss"
t0 = time.monotonic()
pid = os.posix_spawn("/usr/bin/time", ["/usr/bin/time", "-o", rssfile, "-f", "%M", "sh", "-c", sys.argv[2]],
                     os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
with open(rssfile) as f:
    rss = f.read().split()[-1]
os.remove(rssfile)
with open(out, "w") as f:
    f.write("%s %.6f %.6f %.6f\n" % (rss, ru.ru_utime, ru.ru_stime, wall))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
]==]

--- Runs `cmd` (a shell command line without secrets) with the environment file sourced: peak RSS
-- by GNU time, CPU and wall time by wait4 (see MEASURE). Returns stdout, the peak RSS in kB, the
-- wall seconds, ok, and the user + system CPU seconds of the command (its children included).
function lib.run(envfile, cmd)
  local rss = os.tmpname()
  local out, ok = lib.capture("sh -c '. \"$0\"; exec python3 -c \"$1\" \"$2\" \"$3\"' "
    .. lib.quote(envfile) .. " " .. lib.quote(MEASURE) .. " " .. lib.quote(rss) .. " " .. lib.quote(cmd))
  local kb, user, sys, wall = (lib.read(rss) or ""):match("(%d+) (%S+) (%S+) (%S+)%s*$")
  os.remove(rss)
  local cpu = user and tonumber(user) + tonumber(sys) or nil
  return out, tonumber(kb), tonumber(wall), ok, cpu
end

--- Installs the Debian packages the benchmarks need when missing (scripts/lib.sh PKGS_BENCH).
function lib.need_packages()
  assert(os.execute("bash -c '. \"$0\" && need \"${PKGS_MOCK[@]}\" \"${PKGS_BENCH[@]}\"' "
    .. lib.quote(lib.ROOT .. "/scripts/lib.sh")), "could not install the benchmark's packages")
end

--- Starts a mock (`mock/server start` arguments); returns its URL. lib.stop_mock() stops it.
local mock_url
function lib.start_mock(args)
  local out, ok = lib.capture(lib.quote(lib.ROOT .. "/mock/server") .. " start " .. (args or ""))
  mock_url = out:match("ACEDATA_MOCK_URL=(%S+)")
  assert(ok and mock_url, "mock did not start: " .. out)
  return mock_url
end

function lib.stop_mock()
  if mock_url then
    os.execute(lib.quote(lib.ROOT .. "/mock/server") .. " stop " .. lib.quote(mock_url) .. " 2>/dev/null")
    mock_url = nil
  end
end

--- POSTs JSON to the mock's control API (no token there).
function lib.control(url, path, json)
  local out = lib.capture("curl -sf -X POST -H 'Content-Type: application/json' --data "
    .. lib.quote(json) .. " " .. lib.quote(url .. path))
  return out
end

--- The nginx worker pid of the mock at `url` (its master's only child).
function lib.worker_pid(url)
  local port = url:match(":(%d+)$")
  local master = (lib.read(lib.ROOT .. "/.tmp/mock-" .. port .. "/pid") or ""):match("%d+")
  if not master then return nil end
  local out = lib.capture("ps -o pid= --ppid " .. master)
  return tonumber(out:match("%d+"))
end

--- CPU seconds (user + system) a process has used so far.
function lib.cpu_seconds(pid)
  local stat = pid and lib.read("/proc/" .. pid .. "/stat")
  if not stat then return nil end
  local rest = stat:match("%) (.*)$")
  local fields = {}
  for f in rest:gmatch("%S+") do fields[#fields + 1] = f end
  -- after "pid (comm) ", utime and stime are fields 12 and 13 (14 and 15 of the whole line)
  lib.ticks = lib.ticks or tonumber((lib.capture("getconf CLK_TCK"))) or 100
  local ticks = lib.ticks
  return (tonumber(fields[12]) + tonumber(fields[13])) / ticks
end

--- VmHWM of this process in kB.
function lib.hwm_kb()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s+(%d+)")
    if v then return tonumber(v) end
  end
end

function lib.median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

return lib
