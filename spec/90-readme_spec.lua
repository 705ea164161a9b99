-- Every Lua example of the README and of the pages of docs/ runs, as a new user would run it: a
-- fresh interpreter with the token and base URL in the environment (pointing at the mock).
-- Examples that only run inside nginx or Neovim (they use ngx.*, vim.* or acedata.nvim) are run by
-- those environments' own specs (60-openresty, 71-nvim_help); the shell examples are run by
-- 91-shell_examples. A block marked `<!-- not run: why -->` is listed as pending (see
-- spec/helpers/doc_examples.lua).
local child = require "spec.helpers.child"
local doc_examples = require "spec.helpers.doc_examples"
local mock = require "spec.helpers.mock"

local function lua_blocks(path)
  local out = {}
  for _, b in ipairs(doc_examples.blocks(path)) do
    if b.lang == "lua" then out[#out + 1] = b end
  end
  return out
end

local function describe_page(path)
  describe(path, function()
    for _, b in ipairs(lua_blocks(path)) do
      local elsewhere = b.code:find("ngx%.") or b.code:find("vim%.") or b.code:find("acedata.nvim", 1, true)
      -- acedata.luv needs to yield across pcall: Lua 5.2+ or LuaJIT (the docs say so).
      local needs_yield = b.code:find("acedata.luv", 1, true) and _VERSION == "Lua 5.1" and not rawget(_G, "jit")
      if b.not_run then
        pending("the example at line " .. b.line .. " is not run: " .. b.not_run)
      elseif not elsewhere and needs_yield then
        pending("the example at line " .. b.line .. " (acedata.luv) needs Lua 5.2+ or LuaJIT")
      elseif not elsewhere then
        it("runs the example at line " .. b.line, function()
          mock.reset()
          mock.config { records = 300 }
          local out, ok = child.run(b.code, {
            ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url(),
          })
          assert.is_true(ok, out)
          assert.is_nil(out:find(mock.TOKEN, 1, true))
        end)
      end
    end
  end)
end

describe("README.md", function()
  it("has Lua examples", function()
    assert.is_true(#lua_blocks("README.md") >= 3)
  end)

  it("is at most about 200 lines", function()
    local n = 0
    for _ in io.lines("README.md") do n = n + 1 end
    assert.is_true(n <= 200, n .. " lines")
  end)
end)

for _, path in ipairs(doc_examples.pages()) do describe_page(path) end
