std = "max"
max_line_length = 130
-- `not (x > 0)` is deliberate: it also refuses NaN.
ignore = { "581" }
files["spec/**/*.lua"] = { std = "+busted" }
files["mock/lua/**/*.lua"] = { globals = { "ngx" } }
files["lua/acedata/transport/ngx.lua"] = { read_globals = { "ngx" } }
files["lua/acedata/nvim/**/*.lua"] = { read_globals = { "vim" } }
exclude_files = { "build/**", ".tmp/**" }
files["lua/acedata/health.lua"] = { read_globals = { "vim" } }
