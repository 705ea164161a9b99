--- Deterministic JSON pages shaped like AceData usage list responses, for bench/decode and as
-- fuzz seeds. Text is written by hand (not by a JSON library) so the format matches the server:
-- `{"count":N,"items":[...]}`, compact, floats like `800.0`.
--
--   local pages = require "pages"       -- with bench/ on package.path
--   pages.records(1000)                 -- ~550 KB of proxy usage records
--   pages.metadata_heavy(300)           -- big nested metadata objects and arrays
--   pages.string_heavy(500)             -- escapes, surrogate pairs and raw UTF-8 text
--   pages.all()                         -- { {name=, json=, records=}, ... } as the bench uses
local pages = {}

local concat, format = table.concat, string.format
local floor = math.floor

-- Park-Miller "minimal standard" generator: exact in doubles, same stream on every Lua.
local function rng(seed)
  local x = seed % 2147483647
  if x <= 0 then x = x + 2147483646 end
  return function(n)
    x = (x * 16807) % 2147483647
    if n then return x % n end
    return x
  end
end

local HEX = {}
for i = 0, 15 do HEX[i] = format("%x", i) end

local function uuid(r)
  local t = {}
  for i = 1, 32 do t[i] = HEX[r(16)] end
  return concat(t, "", 1, 8) .. "-" .. concat(t, "", 9, 12) .. "-4" .. concat(t, "", 14, 16)
    .. "-" .. concat(t, "", 17, 20) .. "-" .. concat(t, "", 21, 32)
end

local MODELS = { "gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "deepseek-chat", "o1-mini" }
local SERVICES = {
  { "openai-proxy", "OpenAI Proxy" }, { "claude-proxy", "Claude Proxy" },
  { "deepseek-proxy", "DeepSeek Proxy" },
}
local FINISH = { "null", '"stop"', '"length"' }

local function timestamp(r)
  return format('"2024-%02d-%02dT%02d:%02d:%02d.%06dZ"', 1 + r(12), 1 + r(28), r(24), r(60),
    r(60), r(1000000))
end

-- A decimal amount printed the way the API does (always with a fraction).
local function amount(r, scale)
  local v = r(scale * 1000) / 1000
  if v == floor(v) then return format("%.1f", v) end
  return format("%.3f", v):gsub("0+$", "")
end

local function service(r, users)
  local s = SERVICES[1 + r(#SERVICES)]
  return format('{"id":"%s","alias":"%s","name":"%s"}', users.services[s[1]], s[1], s[2])
end

local function record(r, users, metadata)
  local used = amount(r, 20)
  return concat({
    '{"id":"', uuid(r), '","user_id":"', users.user, '","application_id":"',
    users.apps[1 + r(#users.apps)], '","proxy_id":"', uuid(r), '","credential_id":"', uuid(r),
    '","remaining_amount":', amount(r, 1000), ',"used_amount":', used, ',"deducted_amount":', used,
    ',"original_amount":', used, ',"elapsed":', amount(r, 30), ',"trace_id":"', uuid(r),
    '","service":', service(r, users), ',"metadata":', metadata(r), ',"created_at":', timestamp(r),
    ',"updated_at":', timestamp(r), "}",
  })
end

local function small_metadata(r)
  return format('{"model":"%s","prompt_tokens":%d,"completion_tokens":%d,"stream":%s,'
    .. '"finish_reason":%s}', MODELS[1 + r(#MODELS)], r(4000), r(2000),
    r(2) == 1 and "true" or "false", FINISH[1 + r(#FINISH)])
end

local WORDS = { "the", "usage", "record", "token", "model", "stream", "credit", "proxy", "answer",
  "question", "latency", "cache", "vector", "prompt", "system", "user" }

local function sentence(r, n)
  local t = {}
  for i = 1, n do t[i] = WORDS[1 + r(#WORDS)] end
  return concat(t, " ")
end

local function big_metadata(r)
  local msgs = {}
  for i = 1, 2 + r(4) do
    msgs[i] = format('{"role":"%s","content":"%s","tokens":%d}', i % 2 == 1 and "user" or
      "assistant", sentence(r, 5 + r(20)), r(500))
  end
  local scores, tags = {}, {}
  for i = 1, 8 do scores[i] = format("%d.%03d", r(10), r(1000)) end
  for i = 1, 1 + r(5) do tags[i] = '"' .. WORDS[1 + r(#WORDS)] .. '"' end
  return concat({
    '{"model":"', MODELS[1 + r(#MODELS)], '","prompt_tokens":', r(4000), ',"completion_tokens":',
    r(2000), ',"stream":', r(2) == 1 and "true" or "false", ',"finish_reason":',
    FINISH[1 + r(#FINISH)], ',"messages":[', concat(msgs, ","), '],"usage":{"input":{"text":',
    r(3000), ',"cached":', r(1000), ',"images":[', r(10), ",", r(10), ']},"output":{"text":',
    r(2000), ',"reasoning":', r(500), '}},"scores":[', concat(scores, ","), '],"tags":[',
    concat(tags, ","), '],"request":{"temperature":0.7,"top_p":1.0,"max_tokens":', r(8000),
    ',"tools":[],"stop":null,"user":"', uuid(r), '"}}',
  })
end

-- Escaped and raw non-ASCII text (raw UTF-8 as decimal escapes: Lua 5.1 has no \u{}).
local FRAGMENTS = {
  "line one\\nline two", 'say \\"hello\\"', "caf\\u00e9", "\\ud83d\\ude00 smile",
  "tab\\tsep", "back\\\\slash", "caf\195\169 cr\195\168me br\195\187l\195\169e", "\228\184\173\230\150\135\230\156\172",
  "\240\159\154\128 launch", "\\u4e2d\\u6587", "plain ascii words", "\\/path\\/to", "\206\177\206\178\206\179",
}

local function text(r, n)
  local t = {}
  for i = 1, n do t[i] = FRAGMENTS[1 + r(#FRAGMENTS)] end
  return concat(t, " ")
end

local function string_metadata(r)
  return format('{"model":"%s","prompt":"%s","completion":"%s","title":"%s","stream":true,'
    .. '"finish_reason":"stop"}', MODELS[1 + r(#MODELS)], text(r, 6 + r(10)),
    text(r, 10 + r(20)), text(r, 3))
end

local function page(n, seed, metadata)
  local r = rng(seed)
  local users = { user = "b87f67c1-b04f-4332-99a1-7a5e651331c6", apps = {}, services = {} }
  for i = 1, 4 do users.apps[i] = uuid(r) end
  for _, s in ipairs(SERVICES) do users.services[s[1]] = uuid(r) end
  local items = {}
  for i = 1, n do items[i] = record(r, users, metadata) end
  return '{"count":' .. n .. ',"items":[' .. concat(items, ",") .. "]}"
end

function pages.records(n, seed) return page(n, seed or 42, small_metadata) end
function pages.metadata_heavy(n, seed) return page(n, seed or 7, big_metadata) end
function pages.string_heavy(n, seed) return page(n, seed or 99, string_metadata) end

--- The bench set, smallest first.
function pages.all()
  return {
    { name = "records-100", json = pages.records(100), records = 100 },
    { name = "records-1000", json = pages.records(1000), records = 1000 },
    { name = "records-10000", json = pages.records(10000), records = 10000 },
    { name = "metadata-300", json = pages.metadata_heavy(300), records = 300 },
    { name = "strings-500", json = pages.string_heavy(500), records = 500 },
  }
end

return pages
