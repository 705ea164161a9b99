--- The proxy usage endpoints: `usage.proxies{…}`, `.each`, `.all`, `.get`.
-- @module acedata.usage

local errors = require "acedata.errors"
local paging = require "acedata.paging"
local query = require "acedata.query"

local usage = {}

local LIST_PATH = "/api/v1/usage/proxies/"

--- The filters of `GET /api/v1/usage/proxies/`, with their kinds (see acedata.query).
usage.FILTERS = {
  application_id = "strings", proxy_id = "strings", user_id = "string",
  created_at_from = "time", created_at_to = "time", ordering = "string",
}

local LIST_SCHEMA = { limit = "positive", offset = "integer" }
for k, v in pairs(usage.FILTERS) do LIST_SCHEMA[k] = v end

--- Names `each{}`/`all{}` take on top of the filters.
local ITER_OPTIONS = { page_size = true, max_items = true, offset = true, deadline = true,
                       prefetch = true, concurrency = true, fields = true }

local function fail(msg, level)
  error("acedata: " .. msg, level + 1)
end

--- Checks a page body and gives it the documented form `{count, results, limit, offset}`.
local function to_page(body, url, limit, offset, attempts, secret)
  local list = type(body) == "table" and (body.items or body.results)
  local count = type(body) == "table" and body.count
  if type(list) ~= "table" or type(count) ~= "number" then
    return nil, errors.new({ kind = "decode", url = url, attempts = attempts,
      message = "unexpected response: expected an object with count and items (or results)" }, secret)
  end
  return { count = count, results = list, limit = limit, offset = offset }
end

--- Copies `params`, replacing user_id "me" (and a missing user_id) by the caller's id.
-- user_id = false sends none (for tokens that may list every user's records).
local function with_user(client, params, level, deadline)
  local out = {}
  for k, v in pairs(params) do out[k] = v end
  if out.user_id == nil or out.user_id == "me" then
    local me, err = client:whoami(deadline)
    if not me then return nil, err end
    out.user_id = me
  elseif out.user_id == false then
    out.user_id = nil
  elseif type(out.user_id) ~= "string" then
    fail("user_id must be a string, \"me\" or false, got " .. type(out.user_id), level + 1)
  end
  return out
end

--- The decoder options for `fields = {"name", …}`: records keep only these keys, and `id` (paging
-- needs it to skip records shifted between pages). nil when every field is wanted.
local function decode_opts_for(fields, level)
  if fields == nil then return nil end
  if type(fields) ~= "table" or #fields == 0 then
    local got = type(fields) == "table" and "an empty table" or type(fields)
    fail("fields must be a non-empty array of field names, got " .. got, level + 1)
  end
  local list, has_id, n = {}, false, 0
  for _ in pairs(fields) do n = n + 1 end
  if n ~= #fields then fail("fields must be an array of field names (keys 1..n only)", level + 1) end
  for i = 1, #fields do
    local name = fields[i]
    if type(name) ~= "string" or name == "" then
      fail(("fields[%d] must be a non-empty string, got %s"):format(i, name == "" and "\"\"" or type(name)), level + 1)
    end
    list[i] = name
    has_id = has_id or name == "id"
  end
  if not has_id then list[#list + 1] = "id" end
  return { fields = list }
end

local function check_params(params, level)
  if params == nil then return {} end
  if type(params) ~= "table" then fail("parameters must be a table, got " .. type(params), level + 1) end
  return params
end

--- Checks the list parameters as they will be encoded (user_id "me"/false aside), raising on misuse.
-- A message may quote a value: the token is scrubbed from it, should a caller pass it by mistake.
local function check_filters(params, level, secret)
  local probe = {}
  for k, v in pairs(params) do probe[k] = v end
  if probe.user_id == "me" or probe.user_id == false then probe.user_id = nil end
  local ok, err = pcall(query.encode, LIST_SCHEMA, probe, nil, level + 2)   -- + 2: pcall's frame
  if not ok then error(errors.redact(err, secret), 0) end
end

--- Builds the functions for one client.
-- @param client an acedata client
-- @treturn table callable `proxies{…}` with `.each`, `.all`, `.get`
function usage.proxies_api(client)
  -- The client option `deadline`: seconds for one call (or one whole each{}/all{}) by default.
  local function default_deadline()
    return client.cfg.deadline and client.transport:now() + client.cfg.deadline
  end

  -- conn: the client, or its concurrent view (same options, a transport on a loop)
  local function list(params, deadline, level, conn, dopts)
    check_filters(params, level + 1, client.cfg.token)   -- misuse raises before anything is sent
    local p, err = with_user(client, params, level + 1, deadline)
    if not p then return nil, err end
    local qs = query.encode(LIST_SCHEMA, p, nil, level + 1)
    local url = client.cfg.base_url .. LIST_PATH .. (qs ~= "" and "?" .. qs or "")
    local body, rerr, attempts = (conn or client):get(url, deadline, dopts)
    if body == nil then return nil, rerr end
    return to_page(body, url, p.limit, p.offset or 0, attempts, client.cfg.token)
  end

  local function iterator_parts(params, level)
    params = check_params(params, level + 1)
    local filters, opts = {}, { page_size = 100 }
    for k, v in pairs(params) do
      if ITER_OPTIONS[k] then opts[k] = v
      elseif k == "limit" then fail("each{}/all{} take page_size, not limit", level + 1)
      else filters[k] = v end
    end
    -- Check everything now, before the first request.
    query.encode({ page_size = "positive", max_items = "integer", offset = "integer", prefetch = "integer",
        concurrency = "positive" },
      { page_size = opts.page_size, max_items = opts.max_items, offset = opts.offset, prefetch = opts.prefetch,
        concurrency = opts.concurrency }, nil, level + 1)
    if opts.deadline ~= nil and (type(opts.deadline) ~= "number" or not (opts.deadline > 0)) then
      fail("deadline must be a positive number of seconds", level + 1)
    end
    check_filters(filters, level + 1, client.cfg.token)
    local dopts = decode_opts_for(opts.fields, level + 1)
    local deadline = opts.deadline and client.transport:now() + opts.deadline or default_deadline()
    local first_err
    filters, first_err = with_user(client, filters, level + 1, deadline)
    -- prefetch = n: n pages ahead; concurrency = n: n requests at once (n - 1 ahead of the
    -- page being consumed, plus the one the consumer waits for).
    local ahead = math.max(opts.prefetch or 0, (opts.concurrency or 1) - 1)
    local conn = client
    if ahead > 0 then
      conn = client:concurrent()
      opts.loop, opts.ahead = conn.loop, ahead
    end
    local function fetch(offset, limit)
      if first_err then return nil, first_err end
      local p = {}
      for k, v in pairs(filters) do p[k] = v end
      p.offset, p.limit = offset, limit
      return list(p, deadline, 1, conn, dopts)
    end
    local ordering = filters and filters.ordering
    opts.newest_first = ordering == nil or ordering == "-created_at"
    return fetch, opts
  end

  local api = {}

  --- Lazily iterates over every matching record. Raises the error object on failure.
  function api.each(params)
    return paging.each(iterator_parts(params, 2))
  end

  --- Every matching record in one array, or nil and an error.
  function api.all(params)
    return paging.all(iterator_parts(params, 2))
  end

  --- One record by id: `GET /api/v1/usage/proxies/{id}`.
  function api.get(id)
    if type(id) ~= "string" or id == "" then fail("id must be a non-empty string", 2) end
    query.check_text(id, "id", 2)
    local url = client.cfg.base_url .. LIST_PATH .. query.escape(id)
    local rec, err = client:get(url, default_deadline())
    return rec, err
  end

  return setmetatable(api, {
    __call = function(_, params)
      params = check_params(params, 2)
      local dopts
      if params.fields ~= nil then
        dopts = decode_opts_for(params.fields, 2)
        local rest = {}
        for k, v in pairs(params) do if k ~= "fields" then rest[k] = v end end
        params = rest
      end
      local page, err = list(params, default_deadline(), 2, nil, dopts)   -- not a tail call: error levels
      return page, err
    end,
  })
end

return usage
