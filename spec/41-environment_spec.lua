-- The default client and the environment variables of the official tools.
local child = require "spec.helpers.child"
local mock = require "spec.helpers.mock"

describe("the default client", function()
  before_each(function()
    mock.reset()
    mock.config { records = 42 }
  end)

  it("reads token and base URL from the environment", function()
    local out, ok = child.run([[
      local acedata = require "acedata"
      local page = assert(acedata.usage.proxies { limit = 1 })
      io.write(page.count)
    ]], { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url() })
    assert.is_true(ok, out)
    assert.equal("42", out)
  end)

  it("takes the request timeout from PLATFORM_REQUEST_TIMEOUT", function()
    local out = child.run([[
      local c = require("acedata").new()
      io.write(c.cfg.timeout)
    ]], { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_REQUEST_TIMEOUT = "2.5" })
    assert.equal("2.5", out)
  end)

  it("defaults to the live platform URL", function()
    local out = child.run([[io.write(require("acedata").new().cfg.base_url)]],
      { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN })
    assert.equal("https://platform.acedata.cloud", out)
  end)

  it("raises a clear error when there is no token", function()
    local out, ok = child.run([[require("acedata").usage.proxies {}]], { ACEDATACLOUD_PLATFORM_TOKEN = "" })
    assert.is_false(ok)
    assert.truthy(out:find("no token: pass token = \"platform-v1-…\" or set ACEDATACLOUD_PLATFORM_TOKEN", 1, true))
  end)

  it("iterates with each{} and me()", function()
    local out, ok = child.run([[
      local acedata = require "acedata"
      local n = 0
      for _ in acedata.usage.proxies.each { page_size = 10 } do n = n + 1 end
      io.write(n, " ", acedata.me().username)
    ]], { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url() })
    assert.is_true(ok, out)
    assert.equal("42 " .. mock.dataset.ME.username, out)
  end)
end)
