-- Misuse raises at the public boundary and names the caller's line, whichever public function
-- and however deep inside the module the check failed (acedata.misuse).
local acedata = require "acedata"

local TOKEN = "platform-v1-" .. string.rep("cd", 32)
local HERE = "34%-misuse_spec%.lua"

local function client() return acedata.new { token = TOKEN, base_url = "http://127.0.0.1:9" } end

describe("misuse", function()
  it("of acedata.new names the caller's line", function()
    local ok, err = pcall(function() acedata.new { token = TOKEN, base_url = "ftp://x" } end)
    assert.is_false(ok)
    assert.matches(HERE .. ":%d+: acedata: base_url must be an http:// or https:// URL", err)
  end)

  it("of each{} names the caller's line, for a check deep in the query encoder", function()
    local c = client()
    local ok, err = pcall(function() c.usage.proxies.each { application_id = { "a", 2 } } end)
    assert.is_false(ok)
    assert.matches(HERE .. ":%d+: acedata: application_id%[2%] must be a string, got number$", err)
  end)

  it("of all{} names the caller's line", function()
    local c = client()
    local ok, err = pcall(function() c.usage.proxies.all { page_size = 0 } end)
    assert.is_false(ok)
    assert.matches(HERE .. ":%d+: acedata: page_size must be a positive integer, got 0$", err)
  end)

  it("of proxies{} names the caller's line", function()
    local c = client()
    local ok, err = pcall(function() c.usage.proxies { nope = 1 } end)
    assert.is_false(ok)
    assert.matches(HERE .. ":%d+: acedata: unknown parameter \"nope\"$", err)
  end)

  it("of get() names the caller's line", function()
    local c = client()
    local ok, err = pcall(function() c.usage.proxies.get("") end)
    assert.is_false(ok)
    assert.matches(HERE .. ":%d+: acedata: id must be a non%-empty string$", err)
  end)

  it("names exactly the line of the call", function()
    local c = client()
    local line, ok, err = debug.getinfo(1, "l").currentline, pcall(function() c.usage.proxies.each { limit = 5 } end)
    assert.is_false(ok)
    assert.equal(("34-misuse_spec.lua:%d: acedata: each{}/all{} take page_size, not limit"):format(line),
      err:match("34%-misuse_spec%.lua:%d+: .*$"))
  end)

  it("quotes a value without the token, should the token be passed by mistake", function()
    local c = client()
    local ok, err = pcall(function() c.usage.proxies.each { created_at_from = TOKEN } end)
    assert.is_false(ok)
    assert.is_nil(err:find(TOKEN, 1, true))
    assert.truthy(err:find("[REDACTED]", 1, true))
  end)
end)
