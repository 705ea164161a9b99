-- One version everywhere. CMakeLists.txt's `project(acedata VERSION x.y.z)` is the source; the
-- versioned rockspec, CHANGELOG.md's top entry, core._VERSION, acedata._VERSION and the
-- User-Agent sent on the wire must all say the same.
local acedata = require "acedata"
local core = require "acedata.core"
local mock = require "spec.helpers.mock"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- A rockspec's fields, evaluated as LuaRocks does (a chunk of assignments, no globals).
local function rockspec(path)
  local env = {}
  local chunk
  if setfenv then
    chunk = assert(loadstring(read(path), "@" .. path))
    setfenv(chunk, env)
  else
    chunk = assert(load(read(path), "@" .. path, "t", env))
  end
  chunk()
  return env
end

local function rockspec_files()
  local files = {}
  local p = assert(io.popen("ls rockspec"))
  for name in p:lines() do files[#files + 1] = name end
  p:close()
  return files
end

local VERSION = assert(read("CMakeLists.txt"):match("project%(acedata VERSION (%d+%.%d+%.%d+)"),
  "CMakeLists.txt has no project(acedata VERSION x.y.z)")

describe("the version", function()
  it("is x.y.z in CMakeLists.txt", function()
    assert.matches("^%d+%.%d+%.%d+$", VERSION)
  end)

  it("is core._VERSION", function()
    assert.equal(VERSION, core._VERSION)
  end)

  it("is acedata._VERSION", function()
    assert.equal(VERSION, acedata._VERSION)
  end)

  it("heads CHANGELOG.md", function()
    local top = read("CHANGELOG.md"):match("\n## %[([^%]]+)%]")
    assert.equal(VERSION, top)
  end)

  describe("rockspec", function()
    it("is the only versioned rockspec beside the scm one", function()
      local versioned = {}
      for _, name in ipairs(rockspec_files()) do
        if name ~= "acedata-scm-1.rockspec" then versioned[#versioned + 1] = name end
      end
      assert.same({ "acedata-" .. VERSION .. "-1.rockspec" }, versioned)
    end)

    it("names the version and the tag's archive", function()
      local spec = rockspec("rockspec/acedata-" .. VERSION .. "-1.rockspec")
      assert.equal("acedata", spec.package)
      assert.equal(VERSION .. "-1", spec.version)
      assert.equal("https://github.com/acedatacloud/acedata-lua/archive/refs/tags/v" .. VERSION .. ".tar.gz",
        spec.source.url)
      assert.equal("acedata-lua-" .. VERSION, spec.source.dir)
    end)

    it("builds and depends as the scm rockspec does", function()
      local rel = rockspec("rockspec/acedata-" .. VERSION .. "-1.rockspec")
      local scm = rockspec("rockspec/acedata-scm-1.rockspec")
      assert.equal("scm-1", scm.version)
      for _, field in ipairs { "package", "description", "dependencies", "external_dependencies", "build" } do
        assert.same(scm[field], rel[field], field)
      end
    end)
  end)

  describe("User-Agent", function()
    before_each(function() mock.reset() end)

    local function sent_user_agent()  -- of the last request the mock saw
      local log = mock.log()
      return assert(log[#log], "the mock saw no request").user_agent
    end

    it("of a client starts acedata-lua/<version>", function()
      assert(mock.client().usage.proxies { limit = 1 })
      local ua = sent_user_agent()
      assert.equal("acedata-lua/" .. VERSION .. " (", ua:sub(1, #("acedata-lua/" .. VERSION) + 2))
    end)

    it("of a bare core session starts acedata-lua/<version>", function()
      local s = core.session {}
      local status = s:get(mock.url() .. "/api/v1/platform-tokens/me/", { "Authorization: Bearer " .. mock.TOKEN })
      s:close()
      assert.equal(200, status)
      local ua = sent_user_agent()
      assert.equal("acedata-lua/" .. VERSION .. " (", ua:sub(1, #("acedata-lua/" .. VERSION) + 2))
    end)
  end)
end)
