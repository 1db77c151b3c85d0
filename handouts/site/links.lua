-- Rewrite the links of a handout for the site (handouts/site/build.py):
--   other.md / other.md#id   -> other.html / other.html#id (a page of the site)
--   a path into the kit      -> the source browser (metadata source-url) + the path
-- The metadata field page-dir is the handout's folder relative to the kit's root.
-- In tables, `a\|b` in code shows as a|b, as on GitHub (the backslash only keeps
-- the pipe from ending the cell).
local source_url = ""
local page_dir = "handouts"

local function is_external(target)
  return target:match("^%a[%w+.-]*:") or target:match("^#") or target:match("^//")
end

local function normalize(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      table.remove(parts)
    elseif part ~= "." then
      table.insert(parts, part)
    end
  end
  return table.concat(parts, "/")
end

local function rewrite(target)
  if is_external(target) then
    return target
  end
  local path, anchor = target:match("^([^#]*)(#?.*)$")
  local page = path:match("^([%w._-]+)%.md$")
  if page then
    return page .. ".html" .. anchor
  end
  if path:match("^img/") then
    return target
  end
  return source_url .. normalize(page_dir .. "/" .. path) .. anchor
end

local function meta(m)
  if m["source-url"] then
    source_url = pandoc.utils.stringify(m["source-url"])
  end
  if m["page-dir"] then
    page_dir = pandoc.utils.stringify(m["page-dir"])
  end
end

local function unescape_pipes(tbl)
  return pandoc.walk_block(tbl, {
    Code = function(c)
      c.text = c.text:gsub("\\|", "|")
      return c
    end,
  })
end

-- A table in a box of its own (style.css: div.table-scroll), so on a narrow
-- screen the table scrolls sideways inside it instead of being cut off.
local function scroll_box(tbl)
  return pandoc.Div({ unescape_pipes(tbl) }, pandoc.Attr("", { "table-scroll" }))
end

return {
  { Meta = meta },
  { Table = scroll_box },
  {
    Link = function(el)
      el.target = rewrite(el.target)
      return el
    end,
    Image = function(el)
      el.src = rewrite(el.src)
      return el
    end,
  },
}
