#!/usr/bin/python3
"""Render the handouts as a course site (`make handouts`): one pandoc template for all.

    build.py [--out DIR] [--source-url URL] [--title TEXT]

Pages: index.html (the labs in order, the guides), one page per lab handout
(handouts/NN-name.md), every other handout (TA guide, instructor guide,
releasing), reference.html (every monitor command by lab and every make
target, generated from labs/**.c and the Makefile's comments). Generated
Markdown lives in DIR/src/, never in handouts/.

Links between handouts (`03-cr3.md#the-recursive-trick`) become links between
pages; links to files of the kit (`../labs/kernel/paging.c`) point at
--source-url + path, or course.toml's source_url + path (a repository browser,
e.g. https://git.example.edu/os/kit/blob/main/). Without either they are
relative to the kit's folder: the site browses the sources in place when
opened from the kit, but those links leave the site, so they break once it is
served from a web server; the build says how many. Headings get GitHub's
anchor names, so a link works the same on the site and in a repository browser.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

SITE = Path(__file__).resolve().parent
KIT = SITE.parents[1]
sys.path.insert(0, str(SITE))
import reference  # noqa: E402

sys.path.insert(0, str(KIT / "grader"))
from course import config as course_config  # noqa: E402

PANDOC_FORMAT = "markdown+gfm_auto_identifiers-yaml_metadata_block-tex_math_dollars"
DEFAULT_TITLE = "Memory-protection kernel labs"
GUIDE_ORDER = ("ta-guide", "instructor-guide", "releasing")
NOT_PAGES = ("index", "reference")     # names the site generates itself


@dataclass
class Page:
    name: str          # output file name without .html
    kind: str          # lab | guide | index | reference
    title: str
    label: str         # short name in the top bar
    source: str        # what it was rendered from (shown in the footer)
    path: Path         # the Markdown to render


def handout_title(path):
    """The first line's `# Title`, or the file name."""
    lines = path.read_text(errors="replace").splitlines()
    return lines[0][2:].strip() if lines and lines[0].startswith("# ") else path.stem


def first_sentence(path, limit=170):
    """The handout's first paragraph after its title, cut to one sentence
    (and to about `limit` characters, at a word)."""
    text = path.read_text(errors="replace").split("\n\n")
    for para in text[1:]:
        para = " ".join(para.split())
        if para and not para.startswith(("#", "```", "|", "---", "*", "-", ">")):
            m = re.match(r"(.+?[.!?])(\s|$)", para)
            sentence = m.group(1) if m else para
            if len(sentence) > limit:
                cut = sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:")
                if cut.count("`") % 2 == 0 and cut.count("*") % 2 == 0:
                    sentence = cut + " …"
            return sentence
    return ""


def find_pages(kit):
    """The handouts in site order: labs, then the guides."""
    ho = Path(kit) / "handouts"
    labs = sorted(ho.glob("[0-9][0-9]-*.md"))
    others = [p for p in sorted(ho.glob("*.md")) if p not in labs and p.stem not in NOT_PAGES]
    others.sort(key=lambda p: (GUIDE_ORDER.index(p.stem) if p.stem in GUIDE_ORDER
                               else len(GUIDE_ORDER), p.stem))
    pages = []
    for p in labs:
        pages.append(Page(p.stem, "lab", handout_title(p), f"Lab {p.stem[:2]}",
                          f"handouts/{p.name}", p))
    for p in others:
        title = handout_title(p)
        label = {"ta-guide": "TA guide", "instructor-guide": "Instructors",
                 "releasing": "Releasing"}.get(p.stem, title.split(":")[0][:24])
        pages.append(Page(p.stem, "guide", title, label, f"handouts/{p.name}", p))
    return pages


def index_markdown(kit, pages, title):
    """The front page: the labs in order with what each asks, then the guides."""
    out = [f"# {title}", "",
           "Staged x86-64 kernel labs on memory protection. Each lab is a small "
           "kernel that you complete; `make grade LAB=<lab>` boots it in QEMU and "
           "checks it against the machine itself. Work through the labs in order: "
           "each one builds on the code of the ones before.", "",
           "## Labs", "", "| lab | topic | you edit |", "| --- | --- | --- |"]
    for p in (p for p in pages if p.kind == "lab"):
        topic = re.sub(r"^Lab\s+\d+\s*[—–:-]+\s*", "", p.title)
        files = student_files(kit, p.name)
        edit = ", ".join(f"`{f}`" for f in files) if files else ""
        summary = first_sentence(p.path)
        out.append(f"| [{p.name[:2]}]({p.name}.md) | **[{topic}]({p.name}.md)**"
                   f"{'<br>' + summary if summary else ''} | {edit} |")
    out += ["", "## Guides", ""]
    for p in (p for p in pages if p.kind == "guide"):
        blurb = first_sentence(p.path)
        out.append(f"* [{p.title}]({p.name}.md){': ' + blurb if blurb else ''}")
    out += ["* [Reference: monitor commands and make targets](reference.md): every "
            "command of every lab's `lab> ` prompt and every `make` target, generated "
            "from the kit's sources.", ""]
    return "\n".join(out) + "\n"


def student_files(kit, lab):
    """starter/<lab>/<file> for each of the lab's LAB_STUDENT_SRCS."""
    mk = Path(kit) / "labs" / lab / "lab.mk"
    if not mk.exists():
        return []
    text = re.sub(r"\\\n", " ", mk.read_text())
    names = []
    for m in re.finditer(r"^LAB_STUDENT_SRCS\s*[:+]?=(.*)$", text, re.M):
        names += m.group(1).split()
    return [f"starter/{lab}/{n}" for n in names]


def top_bar(pages, current):
    links = []
    for p in pages:
        if p.kind == "index":
            continue
        cur = ' aria-current="page"' if p.name == current else ""
        links.append(f'<a href="{p.name}.html" title="{escape(p.title)}"{cur}>{escape(p.label)}</a>')
    return " ".join(links)


def pager(pages, page):
    labs = [p for p in pages if p.kind == "lab"]
    if page not in labs:
        return ""
    i = labs.index(page)
    prev = f'<a rel="prev" href="{labs[i - 1].name}.html">← {escape(labs[i - 1].title)}</a>' if i else "<span></span>"
    nxt = (f'<a rel="next" href="{labs[i + 1].name}.html">{escape(labs[i + 1].title)} →</a>'
           if i + 1 < len(labs) else '<a href="index.html">All labs →</a>')
    return prev + nxt


def build_date(kit):
    r = subprocess.run(["git", "-C", str(kit), "log", "-1", "--format=%cs"],
                       capture_output=True, text=True)
    return f"as of {r.stdout.strip()}" if r.returncode == 0 and r.stdout.strip() else ""


def render(page, pages, out, source_url, site_title, date):
    """One page through pandoc and the template; returns pandoc's warnings."""
    cmd = ["pandoc", "-f", PANDOC_FORMAT, "-t", "html5", "--standalone",
           "--template", str(SITE / "template.html"),
           "--lua-filter", str(SITE / "links.lua"),
           "--shift-heading-level-by=-1", "--highlight-style=tango",
           "-M", f"source-url={source_url}", "-M", "page-dir=handouts",
           "-M", f"pagetitle={page.title}",
           "-V", f"site-title={site_title}", "-V", f"site-nav={top_bar(pages, page.name)}",
           "-V", f"pager={pager(pages, page)}", "-V", f"page-kind={page.kind}",
           "-V", f"source={page.source}", "-V", f"build-date={date}",
           "-o", str(out / f"{page.name}.html"), str(page.path)]
    if page.kind != "index":
        cmd[1:1] = ["--toc", "--toc-depth=2"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pandoc failed on {page.source}:\n{r.stderr}")
    return [f"{page.source}: {w}" for w in r.stderr.strip().splitlines() if w.strip()]


def build_site(out, kit=KIT, source_url=None, title=DEFAULT_TITLE):
    """Render the whole site into out; return (pages, pandoc warnings)."""
    kit, out = Path(kit), Path(out)
    if shutil.which("pandoc") is None:
        raise RuntimeError("pandoc is not installed: run `make setup` (Debian package pandoc)")
    out.mkdir(parents=True, exist_ok=True)
    gen = out / "src"
    gen.mkdir(exist_ok=True)
    if source_url is None:
        try:
            source_url = course_config.load(kit).source_url or None
        except course_config.CourseError as e:
            raise RuntimeError(str(e)) from None
    if source_url is None:
        source_url = os.path.relpath(kit, out).replace(os.sep, "/") + "/"
    pages = find_pages(kit)
    ref = gen / "reference.md"
    ref.write_text(reference_with_links(kit, pages))
    pages.append(Page("reference", "reference", "Reference: monitor commands and make targets",
                      "Reference", "labs/**.c, Makefile (generated)", ref))
    idx = gen / "index.md"
    idx.write_text(index_markdown(kit, pages, title))
    pages.insert(0, Page("index", "index", title, "Home", "handouts/ (generated)", idx))
    shutil.copy(SITE / "style.css", out / "style.css")
    if (kit / "handouts" / "img").is_dir():
        shutil.copytree(kit / "handouts" / "img", out / "img", dirs_exist_ok=True)
    date = build_date(kit)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        warnings = sum(pool.map(lambda p: render(p, pages, out, source_url, title, date), pages), [])
    return pages, warnings


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value is not None:
                self.links.append(value)


def links_leaving(out):
    """[(page, link)] of every relative link of the site in out that resolves outside
    out: a web server serving out cannot follow it."""
    out = Path(out).resolve()
    found = []
    for page in sorted(out.glob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("//", "#")) or not parts.path:
                continue
            if not (out / unquote(parts.path)).resolve().is_relative_to(out):
                found.append((page.name, link))
    return found


def reference_with_links(kit, pages):
    labs = {p.name for p in pages if p.kind == "lab"}
    # links to kit files are written from handouts/; links.lua sends them to the sources
    return reference.reference_markdown(kit, lambda lab: f"{lab}.md" if lab in labs else None,
                                        lambda path: f"../{path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(KIT / "build" / "site"))
    ap.add_argument("--source-url", help="where links to kit files point (default: the kit, relative)")
    ap.add_argument("--title", default=DEFAULT_TITLE)
    args = ap.parse_args()
    try:
        pages, warnings = build_site(args.out, source_url=args.source_url, title=args.title)
    except RuntimeError as e:
        sys.exit(f"handouts: {e}")
    for w in warnings:
        print(f"handouts: {w}", file=sys.stderr)
    leaving = links_leaving(args.out)
    if leaving:
        print(f"handouts: {len(leaving)} links to kit files leave the site (e.g. {leaving[0][1]} in "
              f"{leaving[0][0]}): fine when opened from the kit, broken when served from a web "
              f"server; give --source-url URL or course.toml's source_url", file=sys.stderr)
    print(f"handouts: {len(pages)} pages in {os.path.relpath(args.out)}/ "
          f"(open {os.path.relpath(args.out)}/index.html)")


if __name__ == "__main__":
    main()
