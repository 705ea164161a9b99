-- Test helper: the fenced code blocks of README.md and docs/*.md, for the specs that run them
-- (90-readme: Lua, 71-nvim_help: Neovim, 91-shell_examples: sh; 60-openresty reads its nginx
-- snippets itself).
--
-- A block is run unless the line just before its fence is an HTML comment
-- `<!-- not run: why -->` (invisible on the rendered page): the specs then list it as pending,
-- with the reason, so a block left out shows in every run.
local doc_examples = {}

--- README.md, then the pages of docs/ in name order.
function doc_examples.pages()
  local list = { "README.md" }
  local p = assert(io.popen("ls docs/*.md"))
  for path in p:lines() do list[#list + 1] = path end
  p:close()
  return list
end

--- The blocks of one page: { page, line (of the fence), lang, code, lines, not_run (reason) }.
function doc_examples.blocks(path)
  local blocks, current, prev, line_no = {}, nil, "", 0
  for line in io.lines(path) do
    line_no = line_no + 1
    if current then
      if line:match("^```%s*$") then
        current.code = table.concat(current.lines, "\n")
        blocks[#blocks + 1] = current
        current = nil
      else
        current.lines[#current.lines + 1] = line
      end
    else
      local lang = line:match("^```(%w*)%s*$")
      if lang then
        current = { page = path, line = line_no, lang = lang, lines = {},
          not_run = prev:match("^<!%-%-%s*not run:%s*(.-)%s*%-%->%s*$") }
      end
    end
    prev = line
  end
  return blocks
end

--- Every block of every page whose language is `lang`.
function doc_examples.all(lang)
  local out = {}
  for _, path in ipairs(doc_examples.pages()) do
    for _, b in ipairs(doc_examples.blocks(path)) do
      if b.lang == lang then out[#out + 1] = b end
    end
  end
  return out
end

return doc_examples
