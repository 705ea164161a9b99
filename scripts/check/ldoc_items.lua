-- An LDoc filter (`ldoc --filter ldoc_items.write`, run by scripts/check/docs): writes what LDoc
-- documented, one line per item, "<source file>\t<item name>\t<summary length>", to the file
-- named by $LDOC_ITEMS.
local M = {}

function M.write(module_list)
  local out = assert(io.open(assert(os.getenv("LDOC_ITEMS"), "LDOC_ITEMS not set"), "w"))
  for mod in module_list:iter() do
    out:write(mod.file, "\t@module ", mod.name, "\t", #(mod.summary or ""), "\n")
    for item in mod.items:iter() do
      -- "a.b" documents member b of the module table; methods are "Class:name".
      local name = item.name:match("([%w_]+)$") or item.name
      out:write(mod.file, "\t", name, "\t", #(item.summary or ""), "\n")
    end
  end
  out:close()
end

return M
