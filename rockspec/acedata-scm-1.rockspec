rockspec_format = "3.0"
package = "acedata"
version = "scm-1"
source = {
  url = "git+https://github.com/acedatacloud/acedata-lua.git",
}
description = {
  summary = "AceData Cloud proxy usage records as plain Lua tables (libcurl + a fast C JSON decoder)",
  detailed = [[
    Reads AceData Cloud's proxy usage records (GET /api/v1/usage/proxies/) one page at a time
    or through a lazy iterator over every record, with retries, typed errors and a C core that
    decodes JSON straight into Lua tables.
  ]],
  homepage = "https://github.com/acedatacloud/acedata-lua",
  license = "MIT",
  labels = { "http", "api", "json", "curl" },
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
  "argparse >= 0.7",   -- the `acedata` command line (Debian: lua-argparse)
}
external_dependencies = {
  -- Only the library: Debian keeps curl.h under a multiarch include directory LuaRocks does not
  -- search; CMake (find_package(CURL)) finds the header itself.
  CURL = { library = "curl" },
  ZLIB = { header = "zlib.h", library = "z" },   -- core.inflate, for the OpenResty transport
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    ACEDATA_WERROR = "OFF",
  },
  install = {
    -- The `acedata` command; LuaRocks wraps it so it runs with this tree's interpreter and paths.
    bin = { acedata = "bin/acedata" },
  },
}
