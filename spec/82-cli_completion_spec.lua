-- `acedata completion bash|zsh|fish`: scripts generated from the same argparse definition as the
-- command line. The bash one is sourced in a non-interactive bash and asked, through COMP_WORDS
-- and COMP_CWORD as bash's completion would set them, what follows.
local child = require "spec.helpers.child"

local function acedata(argv)
  local words = { child.interpreter(), "bin/acedata" }
  for _, a in ipairs(argv) do words[#words + 1] = a end
  return child.exec(words, { ACEDATACLOUD_PLATFORM_TOKEN = false })
end

describe("acedata completion", function()
  local script

  setup(function()
    local out, err, status = acedata { "completion", "bash" }
    assert.equal(0, status, err)
    script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(out)
    f:close()
  end)

  teardown(function()
    if script then os.remove(script) end
  end)

  -- What the bash completion offers for the words (the last one being completed).
  local function complete(...)
    local words = { "acedata", ... }
    local quoted = {}
    for i, w in ipairs(words) do quoted[i] = child.quote(w) end
    local out, err, status = child.exec({ "bash", "-c", ". " .. child.quote(script) .. "; COMP_WORDS=("
      .. table.concat(quoted, " ") .. "); COMP_CWORD=" .. (#words - 1)
      .. '; _acedata; printf "%s\\n" "${COMPREPLY[@]}"' }, {})
    assert.equal(0, status, err)
    local list = {}
    for w in out:gmatch("[^\n]+") do list[#list + 1] = w end
    table.sort(list)
    return list
  end

  it("bash: completes usage proxies --gr to --group-by", function()
    assert.same({ "--group-by" }, complete("usage", "proxies", "--gr"))
  end)

  it("bash: completes commands, subcommands and an option's choices", function()
    assert.same({ "usage" }, complete("us"))
    assert.same({ "proxies", "proxy" }, complete("usage", "pro"))
    assert.same({ "csv", "html", "json", "jsonl", "table" }, complete("usage", "proxies", "--format", ""))
    assert.same({ "application", "day", "month", "proxy", "service" }, complete("usage", "proxies", "--group-by", ""))
    assert.same({ "--ca-file" }, complete("me", "--ca"))
  end)

  it("zsh and fish: scripts for the same commands and options", function()
    local zsh, _, status = acedata { "completion", "zsh" }
    assert.equal(0, status)
    assert.matches("^#compdef acedata", zsh)
    assert.truthy(zsh:find("--group-by", 1, true))
    local fish
    fish, _, status = acedata { "completion", "fish" }
    assert.equal(0, status)
    assert.truthy(fish:find("complete -c acedata", 1, true))
    assert.truthy(fish:find("group-by", 1, true))
  end)

  it("needs no token, and refuses another shell (exit 2)", function()
    local out, err, status = acedata { "completion", "tcsh" }
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("^acedata: argument 'shell' must be one of 'bash', 'zsh', 'fish'", err)
  end)
end)
