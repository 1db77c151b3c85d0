"""The course site (`make handouts`): it renders, its links resolve, and the
handouts name only make targets, monitor commands, grader tests and files that exist."""
import re
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "handouts" / "site"))

import build  # noqa: E402
import names  # noqa: E402
import reference  # noqa: E402


SOURCE_URL = "https://git.example.edu/os/kit/blob/main/"   # as a course would publish it


class Page(HTMLParser):
    """The ids a page defines, the links it makes, and its tables' parents."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.open, self.table_parents = set(), [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table_parents.append(self.open[-1] if self.open else ("", ""))
        if tag not in ("br", "img", "link", "meta", "col", "hr", "input"):
            self.open.append((tag, a.get("class") or ""))
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) is not None and tag in ("a", "link", "img", "script"):
                self.links.append(a[key])

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    t = time.monotonic()
    pages, warnings = build.build_site(out, kit=KIT, source_url=SOURCE_URL)
    parsed = {}
    for f in out.glob("*.html"):
        p = Page()
        p.feed(f.read_text())
        parsed[f.name] = p
    return {"out": out, "pages": pages, "warnings": warnings, "html": parsed,
            "seconds": time.monotonic() - t}


def test_site_has_a_page_per_handout_and_an_index_in_order(site):
    """Every handout becomes a page; the index lists the labs in order, then the guides."""
    handouts = sorted(p.stem for p in (KIT / "handouts").glob("*.md") if p.stem not in build.NOT_PAGES)
    have = {p.name for p in site["pages"]}
    assert not set(handouts) - have, f"handouts without a page: {sorted(set(handouts) - have)}"
    assert {"index", "reference"} <= have
    for name in have:
        assert (site["out"] / f"{name}.html").exists(), f"{name}.html was not written"
    index = (site["out"] / "index.html").read_text()
    labs = sorted(p.stem for p in (KIT / "handouts").glob("[0-9][0-9]-*.md"))
    positions = [index.find(f'href="{lab}.html"') for lab in labs]
    assert all(p >= 0 for p in positions), f"labs missing from the index: {labs}"
    assert positions == sorted(positions), "the index does not list the labs in order"
    assert not site["warnings"], "pandoc warned:\n" + "\n".join(site["warnings"])


def test_site_links_and_anchors_resolve(site):
    """Every link of every page reaches an existing page (and anchor) or kit file."""
    out, html, broken = site["out"], site["html"], []
    for name, page in sorted(html.items()):
        for link in page.links:
            if link.startswith(SOURCE_URL):   # a kit file, in the course's source browser
                path = unquote(urlsplit(link).path[len(urlsplit(SOURCE_URL).path):])
                if not (KIT / path).exists():
                    broken.append(f"{name}: {link} (no such kit file {path})")
                continue
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue
            target = (out / unquote(parts.path)).resolve() if parts.path else out / name
            anchor = unquote(parts.fragment)
            if not target.exists():
                broken.append(f"{name}: {link} (no such file)")
            elif anchor and target.suffix == ".html":
                ids = html[target.name].ids if target.parent == out.resolve() else set()
                if anchor not in ids:
                    broken.append(f"{name}: {link} (no anchor #{anchor})")
            elif target.is_relative_to(KIT) and not target.is_relative_to(out.resolve()) \
                    and "build" in target.relative_to(KIT).parts[:1]:
                broken.append(f"{name}: {link} (points into build/)")
    if broken:
        pytest.fail("broken links:\n  " + "\n  ".join(broken), pytrace=False)


def test_site_links_stay_inside_the_site_with_a_source_url(site):
    """With a source URL every link to a kit file is absolute under it, and no relative link
    leaves the site's folder (it would break on a web server)."""
    kit_links = [l for page in site["html"].values() for l in page.links if l.startswith(SOURCE_URL)]
    assert len(kit_links) > 20, f"only {len(kit_links)} links to kit files: did --source-url apply?"
    assert build.links_leaving(site["out"]) == []


def test_site_check_reports_links_that_leave_the_site(tmp_path):
    """links_leaving finds a relative link out of the site's folder, and only those."""
    (tmp_path / "index.html").write_text(
        '<a href="../labs/kernel/trap.c">x</a> <a href="ta-guide.html#a">y</a> '
        '<a href="https://example.org/">z</a> <img src="img/a.png"> <a href="#top">t</a>')
    (tmp_path / "ta-guide.html").write_text('<a href="sub/../../../x.c">x</a>')
    assert build.links_leaving(tmp_path) == [("index.html", "../labs/kernel/trap.c"),
                                             ("ta-guide.html", "sub/../../../x.c")]


def test_site_reference_escapes_the_makefile_comments(site):
    """`<uid>`, `<lab>`, `<variant>` of the Makefile's comments show as text, not as tags."""
    text = (site["out"] / "reference.html").read_text()
    assert "kit-&lt;uid&gt;/&lt;lab&gt;-&lt;variant&gt;.gdb.sock" in text
    assert not re.search(r"<(uid|lab|variant)>", text)
    assert reference._cell("a <b> *c* `<d>|e`") == r"a \<b\> \*c\* `<d>\|e`"


def test_site_tables_scroll_in_a_box_of_their_own(site):
    """Every table sits in a div.table-scroll that scrolls sideways (style.css), so on a
    narrow screen its last column (the index's "you edit") stays reachable."""
    outside = [name for name, page in site["html"].items()
               for parent in page.table_parents if parent != ("div", "table-scroll")]
    assert not outside, f"tables outside a scroll box in: {sorted(set(outside))}"
    assert site["html"]["index.html"].table_parents, "the index has no table"
    css = (site["out"] / "style.css").read_text()
    rule = re.search(r"(?ms)^div\.table-scroll \{(.*?)\}", css)
    assert rule and "overflow-x: auto" in rule.group(1), "div.table-scroll does not scroll"


def test_site_reference_lists_every_command_and_target(site):
    """The reference page shows every monitor command of every lab and every documented target."""
    text = (site["out"] / "reference.html").read_text()
    missing = [f"command {c.name} ({c.file})" for cmds in reference.monitor_commands(KIT).values()
               for c in cmds if f"<code>{c.usage.split()[0]}" not in text]
    missing += [f"target {d.name}" for d in reference.make_docs(KIT) if d.kind == "target"
                and f"<code>make {d.name}" not in text]
    assert not missing, "not in reference.html: " + ", ".join(missing)
    assert reference.monitor_commands(KIT)[reference.CORE], "no core commands found: parser broken?"


def test_site_code_blocks_keep_their_columns(site):
    """Diagrams stay monospace, unwrapped and scrollable; no code block loses a character."""
    css = (site["out"] / "style.css").read_text()
    rule = re.search(r"(?ms)^pre \{(.*?)\}", css)
    assert rule, "style.css has no rule for pre"
    for decl in ("white-space: pre", "overflow-x: auto"):
        assert decl in rule.group(1), f"pre lacks `{decl}`"
    assert "monospace" in css
    page = site["out"] / "03-cr3.html"
    if page.exists():
        text = re.sub(r"<[^>]+>", "", page.read_text())
        assert "+-----------+---------+" in text, "the address-split diagram of Lab 03 was altered"


def test_handouts_name_only_things_that_exist():
    """Make targets, monitor commands, grader tests and files named in code exist in the kit."""
    found = names.check_all(KIT)
    if found:
        pytest.fail("dangling names in handouts (file:line: what):\n  " + "\n  ".join(map(str, found)),
                    pytrace=False)


def test_name_check_catches_dangling_names(tmp_path):
    """The name check itself can fail: a handout naming things that do not exist."""
    lab = reference.lab_folders(KIT)[0]
    md = tmp_path / f"{lab}.md"
    md.write_text("# Lab\n\nRun `make gradez LAB=01`, edit `labs/kernel/nothing.c`.\n\n"
                  "```\nlab> frobnicate 0x1000\n```\n\n| test | points |\n| --- | --- |\n"
                  "| `test_does_not_exist` | 3 |\n")
    kit = names.Kit(KIT)
    what = " ".join(d.what for d in names.check_handout(kit, md))
    for name in ("gradez", "nothing.c", "frobnicate", "test_does_not_exist"):
        assert name in what, f"the name check missed `{name}`: {what}"
