-- acedata.core.decode against JSONTestSuite's test_parsing files (Nicolas Seriot's suite):
-- y_* must decode, n_* must return nil and a message, i_* may do either; nothing may crash.
-- The suite ships in spec/fixtures/JSONTestSuite (MIT, its LICENSE beside it); a newer copy can
-- be pointed at with $ACEDATA_SHARED/testdata/JSONTestSuite.
local core = require "acedata.core"

local function suite_dir()
  local candidates = { "spec/fixtures/JSONTestSuite/test_parsing" }
  local shared = os.getenv("ACEDATA_SHARED")
  if shared then
    table.insert(candidates, 1, shared .. "/testdata/JSONTestSuite/test_parsing")
    table.insert(candidates, 2, shared .. "/JSONTestSuite/test_parsing")
  end
  for _, dir in ipairs(candidates) do
    local f = io.open(dir .. "/y_structure_lonely_true.json", "rb")
    if f then
      f:close()
      return dir
    end
  end
end

local function list(dir)
  local names = {}
  local p = io.popen('ls -1 "' .. dir .. '"')
  for name in p:lines() do
    if name:match("%.json$") then names[#names + 1] = name end
  end
  p:close()
  table.sort(names)
  return names
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

describe("acedata.decode", function()
  describe("JSONTestSuite conformance", function()
    local dir = suite_dir()
    if not dir then
      it("finds the suite", function()
        error("JSONTestSuite not found in spec/fixtures/JSONTestSuite: run the specs from the repository root")
      end)
      return
    end

    local names = list(dir)

    it("finds the whole suite", function()
      assert.is_true(#names > 300)
    end)

    for _, name in ipairs(names) do
      local kind = name:sub(1, 2)
      if kind == "y_" then
        it("accepts " .. name, function()
          local ok, v, err = pcall(core.decode, slurp(dir .. "/" .. name))
          assert.is_true(ok, v)
          assert.is_nil(err)
          -- a valid document may still decode to core.null, false, ...; only an error is nil
          assert.is_true(v ~= nil)
        end)
      elseif kind == "n_" then
        it("rejects " .. name, function()
          local ok, v, err = pcall(core.decode, slurp(dir .. "/" .. name))
          assert.is_true(ok, v)
          assert.is_nil(v)
          assert.is_string(err)
          assert.is_truthy(err:match(" at byte %d+$"), err)
        end)
      else
        it("decodes or rejects " .. name .. " without crashing", function()
          local ok, v, err = pcall(core.decode, slurp(dir .. "/" .. name))
          assert.is_true(ok, v)
          if v == nil then assert.is_truthy(err:match(" at byte %d+$"), err) end
        end)
      end
    end

    -- The fields option skips the values a record drops without making them: they must still be
    -- checked exactly as if they were decoded. Each file is wrapped as the dropped field of a
    -- record; with and without fields, the verdict and the message must be the same.
    it("checks a value that fields drops exactly as one it decodes, for every file", function()
      local mismatches = {}
      for _, name in ipairs(names) do
        local doc = '{"count":1,"items":[{"dropped":' .. slurp(dir .. "/" .. name) .. ',"kept":1}]}'
        local v1, e1 = core.decode(doc)
        local v2, e2 = core.decode(doc, { fields = { "kept" } })
        if (v1 == nil) ~= (v2 == nil) or e1 ~= e2 then
          mismatches[#mismatches + 1] = ("%s: %s / %s"):format(name, tostring(e1), tostring(e2))
        elseif v2 ~= nil and v2.items[1].dropped ~= nil then
          mismatches[#mismatches + 1] = name .. ": the dropped field was kept"
        end
      end
      assert.same({}, mismatches)
    end)
  end)
end)
