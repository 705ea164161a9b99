-- Test helper: keeps what acedata logged (log lines, error texts) in .tmp/test-logs/acedata-log.out,
-- which scripts/check/secrets scans for the test tokens and the proxy password along with every
-- other stage's output.
local logs = {}

--- The secret of the proxy specs (tinyproxy's BasicAuth password).
logs.PROXY_PASSWORD = "pr0xy-s3cret"

--- Appends `text` (one or more lines) under a heading naming where it came from.
function logs.keep(where, text)
  if type(text) ~= "string" or text == "" then return end
  os.execute("mkdir -p .tmp/test-logs")
  local f = io.open(".tmp/test-logs/acedata-log.out", "a")
  if not f then return end
  f:write("== ", where, "\n", text, text:sub(-1) == "\n" and "" or "\n")
  f:close()
end

return logs
