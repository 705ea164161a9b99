-- core.inflate: gzip and deflate bodies (what the OpenResty transport gets when it asks for them).
-- The compressed inputs are made by gzip(1) and Python's zlib, independent implementations.
local core = require "acedata.core"

local function filter(cmd, input)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(input)
  f:close()
  local p = assert(io.popen(cmd .. " < " .. path, "r"))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out
end

local PY = "python3 -c 'import sys, zlib; data = sys.stdin.buffer.read(); "
local function zlib_wrapped(s) return filter(PY .. "sys.stdout.buffer.write(zlib.compress(data))'", s) end
local function raw_deflate(s)
  return filter(PY .. "c = zlib.compressobj(wbits=-15); sys.stdout.buffer.write(c.compress(data) + c.flush())'", s)
end

describe("core.inflate", function()
  local parts = {}
  for i = 1, 20000 do parts[i] = ('{"id":%d,"name":"record %d"}'):format(i, i) end
  local TEXT = "[" .. table.concat(parts, ",") .. "]"   -- ~600 KB, several output chunks
  local GZ = filter("gzip -c", TEXT)

  it("gives back what gzip compressed", function()
    assert.is_true(#GZ < #TEXT / 4)
    assert.equal(TEXT, core.inflate(GZ, "gzip", #TEXT))
  end)

  it("gives back zlib-wrapped deflate (HTTP's deflate) and raw deflate", function()
    assert.equal(TEXT, core.inflate(zlib_wrapped(TEXT), "deflate", #TEXT))
    assert.equal(TEXT, core.inflate(raw_deflate(TEXT), "deflate", #TEXT))
  end)

  it("gives back an empty body", function()
    assert.equal("", core.inflate(filter("gzip -c", ""), "gzip", 0))
  end)

  it("refuses a result larger than max_bytes, however small the input", function()
    local v, err = core.inflate(GZ, "gzip", #TEXT - 1)
    assert.is_nil(v)
    assert.equal("gzip body larger than " .. (#TEXT - 1) .. " bytes once decompressed", err)
  end)

  it("refuses truncated data instead of giving part of it", function()
    local v, err = core.inflate(GZ:sub(1, math.floor(#GZ / 2)), "gzip", #TEXT)
    assert.is_nil(v)
    assert.equal("gzip body: the compressed data is truncated", err)
  end)

  it("refuses corrupt data and data in the other format", function()
    local bad = GZ:sub(1, 100) .. string.rep("\0", 50) .. GZ:sub(151)
    assert.same({ nil, "gzip body: the compressed data is corrupt" }, { core.inflate(bad, "gzip", #TEXT) })
    assert.same({ nil, "gzip body: the compressed data is corrupt" },
      { core.inflate(zlib_wrapped(TEXT), "gzip", #TEXT) })
    assert.same({ nil, "deflate body: the compressed data is corrupt" }, { core.inflate("not compressed", "deflate", 100) })
  end)

  it("refuses bytes after the end of the compressed data", function()
    assert.same({ nil, "gzip body: there are bytes after the end of the compressed data" },
      { core.inflate(GZ .. "x", "gzip", #TEXT) })
  end)

  it("raises on misuse: an unknown encoding, a negative limit", function()
    assert.has_error(function() core.inflate(GZ, "br", 10) end)
    assert.has_error(function() core.inflate(GZ, "gzip", -1) end)
    assert.has_error(function() core.inflate(nil, "gzip", 1) end)
  end)
end)
