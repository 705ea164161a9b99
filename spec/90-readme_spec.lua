-- Every Lua example of the README and of the pages of docs/ runs, as a new user would run it: a
-- fresh interpreter with the token and base URL in the environment (pointing at the mock).
-- Examples that only run inside nginx or Neovim (they use ngx.*, vim.* or acedata.nvim) are run by
-- those environments' own specs (60-openresty, 71-nvim_help); the shell examples are run by
-- 91-shell_examples.
local child = require "spec.helpers.child"
local mock = require "spec.helpers.mock"

local function lua_blocks(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local blocks = {}
  local line_no, current, start = 0, nil, nil
  for line in (text .. "\n"):gmatch("(.-)\n") do
    line_no = line_no + 1
    if current then
      if line:match("^```%s*$") then
        blocks[#blocks + 1] = { line = start, code = table.concat(current, "\n") }
        current = nil
      else
        current[#current + 1] = line
      end
    elseif line:match("^```lua%s*$") then
      current, start = {}, line_no
    end
  end
  return blocks
end

local function doc_pages()
  local pages = { "README.md" }
  local p = assert(io.popen("ls docs/*.md"))
  for path in p:lines() do pages[#pages + 1] = path end
  p:close()
  return pages
end

local function describe_page(path)
  describe(path, function()
    local blocks = lua_blocks(path)

    for _, b in ipairs(blocks) do
      local elsewhere = b.code:find("ngx%.") or b.code:find("vim%.") or b.code:find("acedata.nvim", 1, true)
      -- acedata.luv needs to yield across pcall: Lua 5.2+ or LuaJIT (the docs say so).
      local needs_yield = b.code:find("acedata.luv", 1, true) and _VERSION == "Lua 5.1" and not rawget(_G, "jit")
      if not elsewhere and needs_yield then
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

for _, path in ipairs(doc_pages()) do describe_page(path) end
