-- The shell examples of README.md and docs/*.md (```sh blocks):
-- * a transcript (lines starting "$ ") runs command by command in one bash, and each command's
--   output must be the text the page shows under it;
-- * a line that runs `acedata …` runs against the mock and must exit 0;
-- * any other line (builds, the rock, benchmarks, the whole suite) is run by the stage that does
--   that job (scripts/lib.sh's build, scripts/check/rock, bench/*, scripts/test itself): here
--   every file of this checkout it names must exist, and every script it names be executable.
-- `acedata` is bin/acedata of this checkout, run by the interpreter of the suite, in a fresh
-- folder that is also its HOME. A block marked `<!-- not run: why -->` is listed as pending (see
-- spec/helpers/doc_examples.lua).
local child = require "spec.helpers.child"
local doc_examples = require "spec.helpers.doc_examples"
local mock = require "spec.helpers.mock"

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

-- A folder with an `acedata` that runs this checkout's bin/acedata (LUA_PATH/LUA_CPATH of the
-- suite point at this checkout and its build).
local function acedata_bin()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. child.quote(dir)))
  local f = assert(io.open(dir .. "/acedata", "w"))
  local pwd = io.popen("pwd")
  local root = pwd:read("*l")
  pwd:close()
  f:write("#!/bin/sh\nexec ", child.quote(child.interpreter()), " ", child.quote(root .. "/bin/acedata"), ' "$@"\n')
  f:close()
  assert(sh("chmod +x " .. child.quote(dir .. "/acedata")))
  return dir
end

-- Trailing blanks and the CR of CSV's CRLF line ends are not visible on the page.
local function strip(s) return (s:gsub("\r", ""):gsub("[ \t]+\n", "\n"):gsub("\n+$", "")) end

-- Paths of this checkout a command line names (words like scripts/demo, rockspec/x.rockspec),
-- leaving out what the example itself makes (build/…, *.src.rock, *.csv) and search patterns.
local function named_paths(line)
  local out = {}
  local code = line:gsub("%s#.*$", "")
  for word in code:gmatch("[^%s'\"=;()]+") do
    if word:match("^[%w_%-]+/[%w_%-%./]*[%w_%-]$") and not word:find("?", 1, true)
      and not word:match("^build/") and not word:match("%.src%.rock$") and not word:find("://", 1, true) then
      out[#out + 1] = word
    end
  end
  return out
end

describe("the shell examples of README.md and docs/", function()
  local bin

  setup(function() bin = acedata_bin() end)
  teardown(function() if bin then sh("rm -rf " .. child.quote(bin)) end end)
  before_each(function() mock.reset() end)

  for _, b in ipairs(doc_examples.all("sh")) do
    local where = b.page .. " line " .. b.line
    if b.not_run then
      pending(where .. " is not run: " .. b.not_run)
    elseif b.lines[1] and b.lines[1]:match("^%$ ") then
      it(where .. ": each command of the transcript prints what the page shows", function()
        -- One bash runs the commands in order; a marker line before each splits the output.
        local script, want, n = { "set -e", "trap 'mock/server stop \"${ACEDATA_MOCK_URL:-}\" >/dev/null 2>&1 || true' EXIT" },
          {}, 0
        for _, line in ipairs(b.lines) do
          local cmd = line:match("^%$ (.*)$")
          if cmd then
            n = n + 1
            script[#script + 1] = "echo '@@" .. n .. "'"
            script[#script + 1] = cmd
            want[n] = {}
          else
            want[n][#want[n] + 1] = line
          end
        end
        local out, err, status = child.exec({ "bash", "-c", table.concat(script, "\n") },
          { PATH = bin .. ":" .. os.getenv("PATH"), ACEDATA_MOCK_URL = false })
        assert.equal(0, status, (out or "") .. (err or ""))
        assert.is_nil(((out or "") .. (err or "")):find(mock.TOKEN, 1, true), "the token was shown")
        local got, i = {}, nil
        for line in ((out or "") .. "\n"):gmatch("(.-)\n") do
          local m = line:match("^@@(%d+)$")
          if m then i = tonumber(m); got[i] = {} elseif i then got[i][#got[i] + 1] = line end
        end
        for k = 1, n do
          assert.equal(strip(table.concat(want[k], "\n")), strip(table.concat(got[k] or {}, "\n")),
            "output of command " .. k .. " of the transcript")
        end
      end)
    else
      local runs, others = {}, {}
      for _, line in ipairs(b.lines) do
        if line:match("^acedata ") then runs[#runs + 1] = line else others[#others + 1] = line end
      end
      for _, line in ipairs(runs) do
        it(where .. ": `" .. line .. "` runs against the mock", function()
          local dir = os.tmpname()
          os.remove(dir)
          assert(sh("mkdir -p " .. child.quote(dir)))
          local out, err, status = child.exec({ "sh", "-c", "cd " .. child.quote(dir) .. " && " .. line }, {
            PATH = bin .. ":" .. os.getenv("PATH"), HOME = dir, ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN,
            PLATFORM_API_BASE_URL = mock.url(),
          })
          sh("rm -rf " .. child.quote(dir))
          assert.equal(0, status, (out or "") .. (err or ""))
          assert.is_nil(((out or "") .. (err or "")):find(mock.TOKEN, 1, true), "the token was shown")
        end)
      end
      local named = {}
      for _, line in ipairs(others) do
        for _, p in ipairs(named_paths(line)) do named[#named + 1] = { line = line, path = p } end
      end
      if #named > 0 then
        it(where .. ": the files it names exist", function()
          for _, x in ipairs(named) do
            assert.is_true(sh("test -e " .. child.quote(x.path)), x.line .. ": no " .. x.path)
            if x.path:match("^scripts/") or x.path:match("^bench/") or x.path == "mock/server" then
              assert.is_true(sh("test -x " .. child.quote(x.path)), x.line .. ": " .. x.path .. " is not executable")
            end
          end
        end)
      end
    end
  end
end)
