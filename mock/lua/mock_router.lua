--- The API routes: request log, faults, authentication, then list / detail / me.

local dataset = require "mock.dataset"
local state = require "mock_state"
local respond = require "mock_respond"
local faults = require "mock_faults"
local query = require "mock_query"
local model = require "mock_model"

local router = {}

local null = dataset.null

local function route_of(uri)
  if uri == "/api/v1/usage/proxies/" or uri == "/api/v1/usage/proxies" then return "list" end
  local id = uri:match("^/api/v1/usage/proxies/([^/]+)/?$")
  if id then return "detail", id end
  if uri == "/api/v1/platform-tokens/me/" or uri == "/api/v1/platform-tokens/me" then return "me" end
  return nil
end

-- Who is calling: returns user_id, me-object or nil, error-sender.
local function authenticate(header)
  if not header then
    return nil, function()
      respond.detail(401, "Authentication credentials were not provided.",
        { ["WWW-Authenticate"] = 'Bearer realm="api"' })
    end
  end
  local scheme, cred = header:match("^%s*(%S+)%s*(.-)%s*$")
  if not scheme or scheme:lower() ~= "bearer" then
    return nil, function()
      respond.detail(401, "Authentication credentials were not provided.",
        { ["WWW-Authenticate"] = 'Bearer realm="api"' })
    end
  end
  if cred == dataset.TOKEN then return dataset.USER_ID, dataset.ME end
  if cred == dataset.OTHER_TOKEN then return dataset.OTHER_USER_ID, dataset.OTHER_ME end
  if cred == dataset.ADMIN_TOKEN then return dataset.ADMIN_USER_ID, dataset.ADMIN_ME end
  local message = cred == "" and "Invalid token header. No credentials provided." or "Invalid token."
  return nil, function()
    respond.error(401, "invalid_token", message, { ["WWW-Authenticate"] = 'Bearer realm="api"' })
  end
end

router.authenticate = authenticate -- mock_scenario checks tokens the same way

local function auth_scheme(header)
  if not header then return null end
  return header:match("^%s*(%S+)") or ""
end

local function page_delay()
  local ms = state.config.page_delay_ms
  if ms and ms > 0 then ngx.sleep(ms / 1000) end
end

local function handle_list(user_id, args)
  local wanted = args.user_id
  if type(wanted) == "table" then
    for k = 2, #wanted do
      if wanted[k] ~= wanted[1] then wanted = nil break end
    end
    wanted = wanted and wanted[1]
  end
  local admin = user_id == dataset.ADMIN_USER_ID -- may list anyone's records, or everyone's
  if wanted == nil or wanted == "" or wanted == true then
    if not admin then
      return respond.error(403, "permission_denied",
        "user_id is required: listing the records of all users is not permitted.")
    end
    wanted = nil
  elseif wanted ~= user_id and not admin then
    return respond.error(403, "permission_denied",
      "You do not have permission to access the records of this user.")
  end
  local q, err = query.parse(args)
  if not q then return respond.error(400, "invalid_parameter", err) end
  page_delay()
  -- Every record of the data set belongs to USER_ID: a list of everyone's records is that too.
  local body = query.page_body(q, wanted == nil or wanted == dataset.USER_ID, state.config.shape)
  return respond.send(200, body)
end

local function handle_detail(user_id, id)
  page_delay()
  local i = dataset.index_of(id, state.seed())
  if not i or i > state.total() or (user_id ~= dataset.USER_ID and user_id ~= dataset.ADMIN_USER_ID) then
    return respond.detail(404, "Not found.")
  end
  return respond.send(200, state.record_json(i))
end

--- content_by_lua entry point for everything outside /__mock/.
function router.handle()
  local var = ngx.var
  local header = var.http_authorization
  local uri = var.uri
  local route, id = route_of(uri)
  local request_id = var.request_id
  local entry = {
    time = ngx.now(),
    request_id = request_id,
    method = ngx.req.get_method(),
    uri = uri,
    args = var.args or "",
    route = route or null,
    authorization_present = header ~= nil,
    auth_scheme = auth_scheme(header),
    user_agent = var.http_user_agent or null,
    accept_encoding = var.http_accept_encoding or null,
    connection_id = tonumber(var.connection),
    connection_requests = tonumber(var.connection_requests),
    protocol = var.server_protocol,
  }
  ngx.ctx.entry = entry
  state.log_append(entry)
  model.enter()
  ngx.header["X-Request-Id"] = request_id

  if not route then return respond.detail(404, "Not found.") end
  local method = entry.method
  if method ~= "GET" and method ~= "HEAD" then
    return respond.detail(405, 'Method "' .. method .. '" not allowed.', { Allow = "GET, HEAD, OPTIONS" })
  end
  local args = ngx.req.get_uri_args(0)
  if faults.apply(route, route == "list" and query.offset_of(args) or nil) then return end

  local user_id, me_or_fail = authenticate(header)
  if not user_id then return me_or_fail() end
  if model.admit(user_id, route, route == "list" and query.offset_of(args) or nil) then return end
  if route == "list" then return handle_list(user_id, args) end
  if route == "detail" then return handle_detail(user_id, id) end
  return respond.json(200, me_or_fail)
end

--- log_by_lua: record what was finally sent.
function router.log_phase()
  model.leave()
  local ctx = ngx.ctx
  local entry = ctx.entry
  if not entry then return end
  entry.status = ctx.status or ngx.status
  entry.fault = ctx.faults and table.concat(ctx.faults, ",") or null
  entry.bytes_sent = tonumber(ngx.var.bytes_sent)
end

return router
