--- The proxy usage endpoints: `usage.proxies{…}`, `.each`, `.all`, `.get`.
-- @module acedata.usage

local errors = require "acedata.errors"
local misuse = require "acedata.misuse"
local paging = require "acedata.paging"
local query = require "acedata.query"
local request = require "acedata.request"
local runtime = require "acedata.runtime"

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
                       prefetch = true, concurrency = true, max_concurrency = true, fields = true }

--- The most requests `concurrency = "auto"` keeps in flight unless `max_concurrency` says.
usage.MAX_CONCURRENCY = 16

local fail = misuse.raise

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

--- The user_id to send: the caller's id for nil or "me" (asked once per client), none for
-- false (tokens that may list every user's records), else the string given.
local function resolve_user(client, user_id, deadline)
  if user_id == false then return nil end
  if user_id == nil or user_id == "me" then return client:whoami(deadline) end
  return user_id
end

--- The ordering of a listing, for the planner's drift rules (acedata.paging).
local function order_of(ordering)
  if ordering == nil or ordering == "-created_at" then return "newest_first" end
  if ordering == "created_at" then return "oldest_first" end
  return "other"
end

--- The decoder options for `fields = {"name", …}`: records keep only these keys, and `id` (paging
-- needs it to skip records shifted between pages). nil when every field is wanted.
local function decode_opts_for(fields)
  if fields == nil then return nil end
  if type(fields) ~= "table" or #fields == 0 then
    local got = type(fields) == "table" and "an empty table" or type(fields)
    fail("fields must be a non-empty array of field names, got " .. got)
  end
  local list, has_id, n = {}, false, 0
  for _ in pairs(fields) do n = n + 1 end
  if n ~= #fields then fail("fields must be an array of field names (keys 1..n only)") end
  for i = 1, #fields do
    local name = fields[i]
    if type(name) ~= "string" or name == "" then
      fail(("fields[%d] must be a non-empty string, got %s"):format(i, name == "" and "\"\"" or type(name)))
    end
    list[i] = name
    has_id = has_id or name == "id"
  end
  if not has_id then list[#list + 1] = "id" end
  return { fields = list }
end

local function check_params(params)
  if params == nil then return {} end
  if type(params) ~= "table" then fail("parameters must be a table, got " .. type(params)) end
  return params
end

--- Checks the list parameters as they will be encoded (user_id "me"/false aside), raising on misuse.
-- A message may quote a value: the guard scrubs the token from it, should a caller pass it by
-- mistake.
local function check_filters(params)
  local u = params.user_id
  if u ~= nil and u ~= false and type(u) ~= "string" then
    fail("user_id must be a string, \"me\" or false, got " .. type(u))
  end
  local probe = {}
  for k, v in pairs(params) do probe[k] = v end
  if probe.user_id == "me" or probe.user_id == false then probe.user_id = nil end
  query.encode(LIST_SCHEMA, probe)
end

--- One page of `GET /api/v1/usage/proxies/`: `client.usage.proxies{…}`.
-- @function proxies
-- @tparam[opt] table params the filters (`application_id`, `proxy_id` — a string or a list,
--   sent as repeated keys —, `user_id` — an id, `"me"` (the default: the token's owner) or `false`
--   (none: tokens that may list every user's records) —, `created_at_from`, `created_at_to` — ISO
--   8601 strings or epoch seconds —, `ordering`), `limit`, `offset`, `fields` (records keep only
--   these keys, and `id`)
-- @treturn table `{count = n, results = {…}, limit = l, offset = o}`, or nil and an error

--- Lazily iterates over every matching record, page after page: `for rec in
-- client.usage.proxies.each{…} do … end`. Exact whatever page sizes the server chooses; the
-- rules when the listing changes meanwhile are in docs/paging.md.
-- @function proxies.each
-- @tparam[opt] table params the filters of `proxies` (not `limit`/`offset`), and `page_size`
--   (default 100), `offset`, `max_items`, `prefetch = n` (pages on their way while one is read),
--   `concurrency = n` (requests in flight) or `"auto"` (as many as the server serves best, at
--   most `max_concurrency`, default 16), `deadline` (seconds for the whole iteration), `fields`
-- @treturn function the iterator; it raises the error object (acedata.errors) on failure
-- @return nil, nil, and a to-be-closed value: closing it (or leaving a `for` early on 5.4)
--   cancels the requests in flight

--- Every matching record in one array.
-- @function proxies.all
-- @tparam[opt] table params as for `proxies.each`
-- @treturn table the records, or nil and an error

--- One record by id: `GET /api/v1/usage/proxies/{id}`.
-- @function proxies.get
-- @tparam string id
-- @treturn table the record, or nil and an error

--- Builds the functions for one client.
-- @param client an acedata client
-- @treturn table callable `proxies{…}` with `.each`, `.all`, `.get`
function usage.proxies_api(client)
  -- The client option `deadline`: seconds for one call (or one whole each{}/all{}) by default.
  local function default_deadline()
    return client.cfg.deadline and client.runtime:now() + client.cfg.deadline
  end

  -- The URL of a listing without limit and offset, built once: filters checked (misuse raises
  -- before anything is sent), user_id resolved. Returns the URL and the query-string joiner.
  local function list_url(filters, deadline)
    check_filters(filters)
    local p = {}
    for k, v in pairs(filters) do p[k] = v end
    local user, err = resolve_user(client, p.user_id, deadline)
    if err then return nil, err end
    p.user_id = user
    local qs = query.encode(LIST_SCHEMA, p, { limit = true, offset = true })
    local base = client.cfg.base_url .. LIST_PATH .. (qs ~= "" and "?" .. qs or "")
    return base, qs ~= "" and "&" or "?"
  end

  -- One page at (offset, limit) of the listing at `base`.
  local function page_at(base, sep, offset, limit, deadline, dopts, limiter)
    local url = base
    if limit then url = url .. sep .. "limit=" .. limit sep = "&" end
    if offset then url = url .. sep .. "offset=" .. offset end
    local body, err, attempts = request.get(client, url, deadline, dopts, limiter)
    if body == nil then return nil, err end
    return to_page(body, url, limit, offset or 0, attempts, client.cfg.token)
  end

  local function one_page(params)
    params = check_params(params)
    local dopts = decode_opts_for(params.fields)
    local filters = {}
    for k, v in pairs(params) do if k ~= "fields" then filters[k] = v end end
    local deadline = default_deadline()
    local base, sep = list_url(filters, deadline)
    if not base then return nil, sep end
    return page_at(base, sep, filters.offset, filters.limit, deadline, dopts)
  end

  local function iteration(params)
    params = check_params(params)
    local filters, opts = {}, { page_size = 100 }
    for k, v in pairs(params) do
      if ITER_OPTIONS[k] then opts[k] = v
      elseif k == "limit" then fail("each{}/all{} take page_size, not limit")
      else filters[k] = v end
    end
    -- Check everything now, before the first request.
    local auto = opts.concurrency == "auto"
    query.encode({ page_size = "positive", max_items = "integer", offset = "integer", prefetch = "integer",
        concurrency = "positive", max_concurrency = "positive" },
      { page_size = opts.page_size, max_items = opts.max_items, offset = opts.offset, prefetch = opts.prefetch,
        concurrency = not auto and opts.concurrency or nil, max_concurrency = opts.max_concurrency })
    if opts.max_concurrency and not auto then fail("max_concurrency goes with concurrency = \"auto\"") end
    if opts.deadline ~= nil and (type(opts.deadline) ~= "number" or not (opts.deadline > 0)) then
      fail("deadline must be a positive number of seconds")
    end
    local dopts = decode_opts_for(opts.fields)
    -- prefetch = n: n pages ahead; concurrency = n: n requests at once (n - 1 ahead of the
    -- page being read, plus the one the reader waits for); "auto": as many as acedata.limiter
    -- finds the server serves best, at most max_concurrency.
    local ahead, limiter = math.max(opts.prefetch or 0, (not auto and opts.concurrency or 1) - 1), nil
    if auto then
      if opts.prefetch then fail("prefetch does not go with concurrency = \"auto\" (it sets how many are ahead)") end
      limiter = require("acedata.limiter").new { max = opts.max_concurrency or usage.MAX_CONCURRENCY }
    end
    if ahead > 0 or limiter then
      runtime.check_concurrent(client.runtime, opts.concurrency and "concurrency" or "prefetch")
    end
    local deadline = opts.deadline and client.runtime:now() + opts.deadline or default_deadline()
    local base, sep = list_url(filters, deadline)
    local fetch
    if base then
      fetch = function(offset, limit) return page_at(base, sep, offset, limit, deadline, dopts, limiter) end
    else
      local err = sep
      fetch = function() return nil, err end
    end
    return {
      fetch = fetch, page_size = opts.page_size, max_items = opts.max_items, offset = opts.offset,
      order = order_of(filters.ordering), ahead = ahead, limiter = limiter, runtime = client.runtime,
      url = base or (client.cfg.base_url .. LIST_PATH), secret = client.cfg.token,
    }
  end

  local function token() return client.cfg.token end
  local api = {}

  -- each{}: see the doc of proxies.each above.
  api.each = misuse.guard(function(params)
    return paging.each(iteration(params))
  end, token)

  -- all{}
  api.all = misuse.guard(function(params)
    return paging.all(iteration(params))
  end, token)

  -- get(id)
  api.get = misuse.guard(function(id)
    if type(id) ~= "string" or id == "" then fail("id must be a non-empty string") end
    query.check_text(id, "id")
    local url = client.cfg.base_url .. LIST_PATH .. query.escape(id)
    local rec, err = request.get(client, url, default_deadline())
    return rec, err
  end, token)

  -- proxies{…}: one page.
  return setmetatable(api, {
    __call = misuse.guard(function(_, params) return one_page(params) end, token),
  })
end

return usage
