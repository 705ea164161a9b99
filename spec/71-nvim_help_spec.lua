-- The Neovim side a user meets first, in headless Neovim (Debian's 0.7.2) with this checkout on
-- 'runtimepath': `:help acedata` (doc/acedata.txt and its tags), `:checkhealth acedata`
-- (lua/acedata/health.lua), and every Neovim example of README.md and docs/ (the lazy.nvim spec,
-- the `:` commands, the Lua for other plugins) run against the mock.
local child = require "spec.helpers.child"
local doc_examples = require "spec.helpers.doc_examples"
local mock = require "spec.helpers.mock"
local nvim = require "spec.helpers.nvim"

local function env(extra)
  local e = { ACEDATA_MOCK_URL = mock.url(), ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- Runs `code` in Neovim; returns the lines it recorded with out(), failing with everything shown.
local function run(code, e, timeout)
  local lines, output, ok = nvim.run(code, e or env(), timeout)
  local text = table.concat(lines, "\n")
  assert.is_true(ok, output .. "\n" .. text)
  assert.is_nil((output .. text):find(mock.TOKEN, 1, true), "the token was shown")
  return lines, text
end

local function shell(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

describe(":help acedata", function()
  before_each(function()
    assert.is_true(nvim.available(), "nvim is not installed (Debian package neovim)")
  end)

  it("doc/tags is what :helptags makes of doc/acedata.txt, without an error", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert.is_true(shell("mkdir -p " .. child.quote(dir) .. " && cp doc/acedata.txt " .. child.quote(dir)))
    local _, text = run(([[
      vim.cmd("helptags %s")
      out("errmsg=" .. vim.v.errmsg)
      stop_guard(); done()
    ]]):format(dir))
    local fresh = child.read(dir .. "/tags")
    shell("rm -rf " .. child.quote(dir))
    assert.equal("errmsg=", text)
    assert.truthy(fresh and fresh:find("acedata.txt", 1, true), "no tags made")
    assert.equal(fresh, child.read("doc/tags"), "doc/tags is stale: run nvim --headless -c 'helptags doc' -c q")
  end)

  it("every |link| of doc/acedata.txt names a help tag", function()
    local _, text = run([[
      local f = assert(io.open(os.getenv("ACEDATA_ROOT") .. "/doc/acedata.txt"))
      local body = f:read("*a")
      f:close()
      local n = 0
      for tag in body:gmatch("|([^|%s]+)|") do
        n = n + 1
        if not vim.tbl_contains(vim.fn.getcompletion(tag, "help"), tag) then out("missing " .. tag) end
      end
      out("links " .. n)
      stop_guard(); done()
    ]])
    assert.matches("^links %d+$", text)
    assert.is_true(tonumber(text:match("%d+")) >= 10, text)
  end)

  it("opens doc/acedata.txt at the *acedata* tag", function()
    local lines = run([[
      vim.cmd("help acedata")
      out(vim.api.nvim_buf_get_name(0))
      out(vim.bo.filetype)
      out(vim.api.nvim_get_current_line())
      vim.cmd("help :AceDataUsage")
      out(vim.api.nvim_get_current_line())
      stop_guard(); done()
    ]])
    assert.equal(nvim.root() .. "/doc/acedata.txt", lines[1])
    assert.equal("help", lines[2])
    assert.truthy(lines[3]:find("*acedata*", 1, true), lines[3])
    assert.truthy(lines[4]:find("*:AceDataUsage*", 1, true), lines[4])
  end)
end)

describe("acedata.nvim on Neovim 0.10+", function()
  it("uses vim.uv when it exists (vim.loop only before)", function()
    local lines = run([[
      -- Neovim 0.10 has vim.uv; this 0.7 does not: give it one that records what is used.
      local used, loop = {}, vim.loop
      vim.uv = setmetatable({}, { __index = function(_, k) used[#used + 1] = k; return loop[k] end })
      vim.loop = setmetatable({}, { __index = function(_, k) used[#used + 1] = "loop." .. k; return loop[k] end })
      require("acedata.nvim").find_core()
      out(table.concat(used, ","))
      stop_guard(); done()
    ]])
    assert.same({ "fs_stat" }, lines)
  end)
end)

describe(":checkhealth acedata", function()
  before_each(function()
    assert.is_true(nvim.available(), "nvim is not installed (Debian package neovim)")
  end)

  -- The report's lines, after `before` ran in Neovim.
  local function checkhealth(before, e)
    local lines = run(([[
      %s
      vim.cmd("checkhealth acedata")
      for _, l in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do out(l) end
      stop_guard(); done()
    ]]):format(before or ""), e)
    return lines
  end

  local function line_with(lines, level, text)
    for _, l in ipairs(lines) do
      if l:find(level, 1, true) and l:find(text, 1, true) then return l end
    end
    return nil
  end

  it("shows the core and its version, libcurl's, the LuaJIT it was built for, a token set, the base URL", function()
    local core_version = require("acedata.core")._VERSION
    local lines = checkhealth([[require("acedata.nvim").setup { base_url = os.getenv("ACEDATA_MOCK_URL") }]])
    local all = table.concat(lines, "\n")
    assert.truthy(line_with(lines, "OK", "acedata.core " .. core_version .. " (" .. nvim.root()
      .. "/build/luajit/acedata/core.so)"), all)
    assert.truthy(line_with(lines, "OK", "libcurl " .. require("acedata.core").curl_version()), all)
    assert.truthy(line_with(lines, "OK", "acedata.core was built for LuaJIT 2.1"), all)
    assert.truthy(line_with(lines, "OK", "a token is set (from $ACEDATACLOUD_PLATFORM_TOKEN); not shown"), all)
    assert.truthy(line_with(lines, "OK", "base URL " .. mock.url() .. " (setup{ base_url = … })"), all)
    assert.is_nil(all:find("ERROR", 1, true), all)
  end)

  for _, api in ipairs { { "0.9+", "start", "ok", "error" }, { "0.8", "report_start", "report_ok", "report_error" } } do
    it("reports through vim.health." .. api[2] .. "/" .. api[3] .. "/… where Neovim " .. api[1] .. " has them", function()
      local lines = run(([[
        local calls = {}
        local function rec(name) return function(msg) calls[#calls + 1] = name .. " " .. msg end end
        vim.health = {}
        for _, name in ipairs { "start", "ok", "info", "warn", "error" } do
          local key = %q == "start" and name or "report_" .. name
          vim.health[key] = rec(name)
        end
        require("acedata.health").check()
        for _, c in ipairs(calls) do out(c) end
        stop_guard(); done()
      ]]):format(api[2]), env { ACEDATACLOUD_PLATFORM_TOKEN = false })
      assert.equal("start acedata", lines[1])
      local all = table.concat(lines, "\n")
      assert.truthy(all:find("\nok libcurl ", 1, true), all)
      assert.truthy(all:find("\nerror no token set", 1, true), all)
    end)
  end

  it("says \"no token set\" when there is none", function()
    local lines = checkhealth(nil, env { ACEDATACLOUD_PLATFORM_TOKEN = false })
    local all = table.concat(lines, "\n")
    assert.truthy(line_with(lines, "ERROR", "no token set"), all)
    assert.truthy(line_with(lines, "OK", "base URL https://platform.acedata.cloud (the default)"), all)
  end)

  it("says core.so is not found when it is nowhere on package.cpath, and how to build it", function()
    -- A copy of the plugin without build/: the checkout's own build must not be found either.
    local dir = os.tmpname()
    os.remove(dir)
    assert.is_true(shell("mkdir -p " .. child.quote(dir) .. " && cp -r lua doc " .. child.quote(dir)))
    local lines = checkhealth(([[
      vim.opt.runtimepath:remove(os.getenv("ACEDATA_ROOT"))
      vim.opt.runtimepath:prepend(%q)
      package.cpath = %q
    ]]):format(dir, dir .. "/nowhere/?.so"))
    shell("rm -rf " .. child.quote(dir))
    local all = table.concat(lines, "\n")
    assert.truthy(line_with(lines, "ERROR", "acedata.core (core.so) not found on package.cpath"), all)
    assert.truthy(all:find("cmake -S " .. dir .. " -B " .. dir .. "/build/luajit -DLUA_VERSION=luajit", 1, true), all)
  end)
end)

-- The Neovim examples of README.md and docs/*.md: ```lua blocks that use vim.* or acedata.nvim
-- (the plain-Lua ones run in spec/90-readme_spec.lua) and ```vim blocks.
local function neovim_examples()
  local out = {}
  for _, path in ipairs(doc_examples.pages()) do
    for _, b in ipairs(doc_examples.blocks(path)) do
      if b.lang == "vim" or b.lang == "lua" and (b.code:find("vim%.") or b.code:find("acedata.nvim", 1, true)) then
        out[#out + 1] = b
      end
    end
  end
  return out
end

describe("the Neovim examples of README.md and docs/", function()
  local examples = neovim_examples()

  before_each(function()
    assert.is_true(nvim.available(), "nvim is not installed (Debian package neovim)")
    mock.reset()
    mock.config { records = 300 }
  end)

  it("are there: a lazy.nvim spec, commands and Lua for other plugins", function()
    local kinds = {}
    for _, ex in ipairs(examples) do
      kinds[ex.lang == "vim" and "vim" or ex.code:match("^%s*{") and "spec" or "lua"] = true
    end
    assert.same({ vim = true, spec = true, lua = true }, kinds)
  end)

  for _, ex in ipairs(examples) do
    local where = ex.page .. " line " .. ex.line
    if ex.not_run then
      pending(where .. " is not run: " .. ex.not_run)
    elseif ex.lang == "lua" and ex.code:match("^%s*{") then
      it(where .. ": the lazy.nvim spec's build makes the core, its config adds :AceDataUsage", function()
        -- The spec's fields, read as lazy.nvim reads them (a Lua table), outside Neovim first.
        local spec = assert((loadstring or load)("return " .. ex.code))()
        assert.equal("AceDataUsage", spec.cmd)
        assert.is_true(shell("cd " .. child.quote(nvim.root()) .. " && (" .. spec.build .. ") >/dev/null 2>&1"),
          "the build command failed: " .. spec.build)
        assert.is_true(shell("test -f " .. child.quote(nvim.root() .. "/build/luajit/acedata/core.so")))
        local lines = run(([[
          local spec = assert(loadstring(%q))()
          spec.config()
          out(vim.fn.exists(":" .. spec.cmd))
          stop_guard(); done()
        ]]):format("return " .. ex.code))
        assert.same({ "2" }, lines)
      end)
    elseif ex.lang == "lua" then
      it(where .. ": runs, and its callbacks end without an error", function()
        local _, text = run(([[
          local notes = {}
          vim.notify = function(msg, level) notes[#notes + 1] = { msg = tostring(msg), level = level } end
          require("acedata.nvim").setup { base_url = os.getenv("ACEDATA_MOCK_URL") }
          assert(loadstring(%q))()
          local ok = vim.wait(20000, function() return #notes > 0 end, 20)
          out(ok and "notified" or "no notification")
          for _, n in ipairs(notes) do
            out((n.level == vim.log.levels.ERROR and "ERROR " or "note ") .. n.msg)
          end
          stop_guard(); done()
        ]]):format(ex.code), nil, 40)
        assert.truthy(text:find("^notified"), text)
        assert.is_nil(text:find("ERROR", 1, true), text)
      end)
    else
      it(where .. ": every command runs", function()
        local _, text = run(([[
          local notes = {}
          vim.notify = function(msg, level) notes[#notes + 1] = { msg = tostring(msg), level = level } end
          require("acedata.nvim").setup { base_url = os.getenv("ACEDATA_MOCK_URL"), max_retries = 0 }
          for cmd in (%q .. "\n"):gmatch("(.-)\n") do
            if cmd:match("^:") then
              local reports = 0
              local id = vim.api.nvim_create_autocmd("User", { pattern = "AceDataReport",
                callback = function() reports = reports + 1 end })
              notes = {}
              local ok, err = pcall(vim.cmd, cmd:sub(2))
              local wait = cmd:match("^:AceDataUsage")
              if wait then
                vim.wait(20000, function()
                  if reports > 0 then return true end
                  for _, n in ipairs(notes) do if n.level == vim.log.levels.ERROR then return true end end
                  return false
                end, 20)
              end
              vim.api.nvim_del_autocmd(id)
              local errors = {}
              for _, n in ipairs(notes) do
                if n.level == vim.log.levels.ERROR then errors[#errors + 1] = n.msg end
              end
              out(("%%s | ok=%%s report=%%s errors=%%s"):format(cmd, tostring(ok and (not wait or reports > 0)),
                tostring(reports > 0), ok and table.concat(errors, "; ") or tostring(err)))
            end
          end
          stop_guard(); done()
        ]]):format(ex.code), nil, 90)
        local n = 0
        for line in (text .. "\n"):gmatch("(.-)\n") do
          if line:find("user_id=all", 1, true) then
            -- No user_id: the page says only a token allowed to list every user's records may;
            -- the mock's token, like an ordinary one of the live API, gets the permission error.
            n = n + 1
            assert.truthy(line:find("report=false errors=acedata: permission error (HTTP 403)", 1, true), line)
          elseif line ~= "" then
            n = n + 1
            assert.truthy(line:find("| ok=true ", 1, true) and line:find(" errors=$"), line)
          end
        end
        assert.is_true(n >= 1, text)
      end)
    end
  end
end)
