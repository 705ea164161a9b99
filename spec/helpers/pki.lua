-- Test helper: a throw-away PKI made with openssl at test time: a CA, and a certificate for
-- DNS:localhost signed by it (ca.pem, server.pem, server.key in the directory), and a TLS mock.
local pki = {}

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
pki.quote = q

local function run(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  assert(ok == true or ok == 0, "command failed: " .. cmd)
end

--- Makes a new directory holding ca.pem, ca.key, server.pem, server.key; returns its path.
function pki.make()
  local dir = os.tmpname()
  os.remove(dir)
  run("mkdir -p " .. q(dir))
  local f = function(name) return q(dir .. "/" .. name) end
  local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  run("openssl req -x509 " .. ec .. " -keyout " .. f("ca.key") .. " -out " .. f("ca.pem")
    .. " -days 2 -subj '/CN=acedata test CA' -addext basicConstraints=critical,CA:TRUE"
    .. " -addext keyUsage=critical,keyCertSign,cRLSign")
  run("openssl req " .. ec .. " -keyout " .. f("server.key") .. " -out " .. f("server.csr") .. " -subj /CN=localhost")
  local ext = assert(io.open(dir .. "/server.ext", "w"))
  ext:write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
  ext:close()
  run("openssl x509 -req -in " .. f("server.csr") .. " -CA " .. f("ca.pem") .. " -CAkey " .. f("ca.key")
    .. " -CAcreateserial -days 2 -out " .. f("server.pem") .. " -extfile " .. f("server.ext"))
  return dir
end

--- Starts a mock that also serves HTTPS with the directory's server certificate; returns its
-- plain URL (for control and stop) and its HTTPS URL with the host name localhost.
function pki.start_mock(dir, records)
  local p = io.popen("mock/server start --records " .. (records or 30) .. " --tls " .. q(dir .. "/server.pem")
    .. " " .. q(dir .. "/server.key") .. " 2>&1")
  local out = p:read("*a")
  p:close()
  local plain, tls = out:match("ACEDATA_MOCK_URL=(%S+)"), out:match("ACEDATA_MOCK_TLS_URL=(%S+)")
  assert(plain and tls, "the TLS mock did not start: " .. out)
  return plain, "https://localhost:" .. tls:match(":(%d+)$")
end

--- Stops that mock and removes the directory.
function pki.stop(dir, plain_url)
  if plain_url then os.execute("mock/server stop " .. q(plain_url) .. " >/dev/null 2>&1") end
  if dir then os.execute("rm -rf " .. q(dir)) end
end

return pki
