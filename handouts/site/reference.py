"""The kit's own tables, read from its sources: monitor commands and make targets.

Used by build.py (the site's reference page) and by the site's test (every
command, target and file a handout names must exist).

  monitor_commands(kit)  -> {group: [Command]}   group "kernel" (every lab) or a lab folder
  lab_commands(kit, lab) -> {name}                the commands one lab's kernel has
  make_docs(kit, path)   -> [DocEntry]             the documented targets and variables
  make_rules(kit, path)  -> {target}               every target a makefile defines
  reference_markdown(kit) -> str                   the reference page, in Markdown
"""
import re
from dataclasses import dataclass
from pathlib import Path

CORE = "kernel"


@dataclass
class Command:
    name: str
    usage: str      # "walk VA"
    help: str       # "the chain of entries from the PML4 to VA's leaf"
    file: str       # path from the kit's root
    line: int


@dataclass
class DocEntry:
    kind: str       # "target" | "variable"
    name: str       # "grade" | "LAB"
    usage: str      # "make grade [LAB=..] [TEST=..]" | "LAB=01 | LAB=01-segmentation"
    text: str
    section: str    # the comment block it came from


def lab_folders(kit):
    """Lab folders in order: labs/NN-name."""
    return sorted(p.name for p in (Path(kit) / "labs").glob("[0-9][0-9]-*") if p.is_dir())


# ---- monitor commands ------------------------------------------------------------

_STRING = r'"(?:[^"\\\n]|\\.)*"'
_MONCMD = re.compile(r"^\s*MONITOR_COMMAND\(\s*(\w+)\s*,\s*((?:" + _STRING + r"\s*)+),\s*(\w+)\s*\)",
                     re.M)


def _c_string(literals):
    """The value of adjacent C string literals ("a " "b" -> a b)."""
    parts = re.findall(_STRING, literals)
    return "".join(bytes(p[1:-1], "utf-8").decode("unicode_escape") for p in parts)


def _split_help(name, text):
    """'walk VA       the chain...' -> ('walk VA', 'the chain...')."""
    m = re.match(r"(\S.*?)\s{2,}(\S.*)$", text)
    if m and m.group(1).split()[0] == name:
        return m.group(1), m.group(2)
    return name, text.strip()


def commands_in(kit, path):
    """The MONITOR_COMMAND registrations of one C file."""
    kit = Path(kit)
    src = path.read_text(errors="replace")
    out = []
    for m in _MONCMD.finditer(src):
        name, text = m.group(1), _c_string(m.group(2))
        usage, help_ = _split_help(name, text)
        out.append(Command(name, usage, help_, str(path.relative_to(kit)),
                           src.count("\n", 0, m.start(1)) + 1))
    return out


def lab_sources(kit, lab):
    """The kit-side C files a lab's kernel compiles (its lab.mk's LAB_KIT_SRCS)."""
    folder = Path(kit) / "labs" / lab
    mk = folder / "lab.mk"
    if not mk.exists():
        return sorted(folder.glob("*.c"))
    text = re.sub(r"\\\n", " ", mk.read_text())
    srcs = []
    for m in re.finditer(r"^LAB_KIT_SRCS\s*[:+]?=(.*)$", text, re.M):
        srcs += m.group(1).split()
    return [(folder / s).resolve() for s in srcs if s.endswith(".c") and (folder / s).exists()]


def monitor_commands(kit):
    """Every monitor command, grouped: the core's ("kernel") then each lab's, in order."""
    kit = Path(kit)
    groups = {CORE: [c for f in sorted((kit / "labs" / CORE).glob("*.c")) for c in commands_in(kit, f)]}
    for lab in lab_folders(kit):
        groups[lab] = [c for f in lab_sources(kit, lab) for c in commands_in(kit, f)]
    return groups


def lab_commands(kit, lab):
    """The names a lab's monitor answers to: the core's plus the lab's own."""
    groups = monitor_commands(kit)
    return {c.name for c in groups[CORE] + groups.get(lab, [])}


# ---- make targets ----------------------------------------------------------------

def _tokens(text):
    """Split on spaces, keeping [..] and <..> groups whole."""
    out, cur, depth = [], "", 0
    for ch in text:
        if ch in "[<":
            depth += 1
        elif ch in "]>":
            depth = max(0, depth - 1)
        if ch == " " and depth == 0:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def _usage_word(tok):
    return tok.startswith(("[", "<", "-")) or "=" in tok or tok.isupper() or tok == "|"


def _entry(body):
    """A documentation line: ('target'|'variable', name, usage, text) or None."""
    words = _tokens(body.strip())
    if not words:
        return None
    if words[0] == "make" and len(words) > 1 and re.fullmatch(r"[\w.-]+", words[1]):
        n = 2
        while n < len(words) and _usage_word(words[n]):
            n += 1
        return "target", words[1], " ".join(words[:n]), " ".join(words[n:])
    m = re.match(r"([A-Z][A-Z0-9_]*)=", words[0])
    if m:
        m2 = re.match(r"(\S.*?)\s{2,}(\S.*)$", body.strip())
        usage, text = (m2.group(1), m2.group(2)) if m2 else (words[0], " ".join(words[1:]))
        return "variable", m.group(1), usage, text
    return None


def make_docs(kit, path="Makefile"):
    """The targets and variables a makefile documents in its comments: entry lines
    `#   make NAME [ARGS]   text` or `#   VAR=value   text`, continued by comment lines
    indented past the entry. The section is the comment block's heading line."""
    entries, section, indent, title = [], "Entry points", None, True
    for line in (Path(kit) / path).read_text().splitlines():
        if not line.startswith("#"):
            section, indent = "", None
            continue
        body = line[1:]
        ent = _entry(body)
        lead = len(body) - len(body.lstrip())
        if ent:
            kind, name, usage, text = ent
            entries.append(DocEntry(kind, name, usage, text, section))
            indent = lead
        elif entries and indent is not None and lead > indent + 2 and body.strip():
            entries[-1].text = (entries[-1].text + " " + body.strip()).strip()
        else:
            indent = None
            head = body.strip(" -#").rstrip(":")
            if head and not title:  # the file's first line is its title
                section = head
            title = False
    return entries


def make_rules(kit, path="Makefile"):
    """Every target name a makefile defines (rules and .PHONY), patterns excluded."""
    names = set()
    for line in (Path(kit) / path).read_text().splitlines():
        m = re.match(r"^([\w.%-]+(?:\s+[\w.%-]+)*)\s*:(?!=)", line)
        if m:
            names.update(n for n in m.group(1).split() if n != ".PHONY" and "%" not in n)
        m = re.match(r"^\.PHONY\s*:(.*)$", line)
        if m:
            names.update(n for n in m.group(1).split() if "%" not in n)
    return names


def make_patterns(kit, path):
    """The pattern rules of a makefile as regexes (print-% -> ^print-.+$)."""
    pats = []
    for line in (Path(kit) / path).read_text().splitlines():
        m = re.match(r"^([\w.-]*%[\w.-]*)\s*:(?!=)", line)
        if m:
            pats.append(re.compile("^" + re.escape(m.group(1)).replace("%", ".+") + "$"))
    return pats


# ---- the reference page ------------------------------------------------------------

MARKDOWN_SPECIAL = re.compile(r"([\\<>*_\[\]])")


def _cell(text):
    """Plain text (a comment of the Makefile, a command's help) as a table cell: what
    Markdown would read as HTML or emphasis (`<uid>`, `*`, `_`) is escaped; `code`
    spans stay code. Pipes never end the cell."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(part if part.startswith("`") and part.endswith("`") and len(part) > 1
                   else MARKDOWN_SPECIAL.sub(r"\\\1", part) for part in parts).replace("|", "\\|")


def _code(text):
    """A Markdown code span that survives backticks and table pipes inside."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _lab_title(kit, lab):
    md = Path(kit) / "handouts" / f"{lab}.md"
    if md.exists():
        first = md.read_text(errors="replace").splitlines()[:1]
        if first and first[0].startswith("# "):
            return first[0][2:].strip()
    return f"Lab {lab[:2]} ({lab})"


def reference_markdown(kit, handout_link=lambda lab: None, file_link=lambda path: path):
    """The reference page: every monitor command by lab, every documented make
    target and variable. handout_link(lab) gives the lab page's URL or None,
    file_link(path) the URL of a kit file."""
    kit = Path(kit)
    out = ["# Reference: monitor commands and make targets", "",
           "Generated from the kit's sources: the `MONITOR_COMMAND` registrations in "
           "`labs/`, and the comments at the top of the `Makefile` and of "
           "`labs/rules.mk`. Type `help` at the `lab> ` prompt for the same list "
           "from a running kernel.", ""]
    groups = monitor_commands(kit)
    out += ["## Monitor commands", ""]
    for group, cmds in groups.items():
        if group == CORE:
            out += ["### Every lab (the core)", ""]
        else:
            link = handout_link(group)
            title = _lab_title(kit, group)
            out += [f"### {title}", ""]
            if link:
                out += [f"Lab handout: [{title}]({link}).", ""]
        if not cmds:
            out += ["No commands of its own.", ""]
            continue
        out += ["| command | what it does | defined in |", "| --- | --- | --- |"]
        for c in cmds:
            out.append(f"| {_code(c.usage)} | {_cell(c.help)} | [`{Path(c.file).name}`]({file_link(c.file)}) |")
        out.append("")
    for path, heading in (("Makefile", "Make targets"), ("labs/rules.mk", "Building one lab")):
        if not (kit / path).exists():
            continue
        docs = make_docs(kit, path)
        out += [f"## {heading}", ""]
        if path != "Makefile":
            out += ["`make -C labs/<lab>` builds one lab's kernel with these variables "
                    f"(from `{path}`).", ""]
        sections = []
        for d in docs:
            if d.section not in sections:
                sections.append(d.section)
        for sec in sections:
            rows = [d for d in docs if d.section == sec]
            if len(sections) > 1 or path == "Makefile":
                out += [f"### {sec[:1].upper() + sec[1:] if sec else 'Entry points'}", ""]
            out += ["| usage | what it does |", "| --- | --- |"]
            out += [f"| {_code(d.usage)} | {_cell(d.text)} |" for d in rows]
            out.append("")
        if path == "Makefile":
            documented = {d.name for d in docs if d.kind == "target"}
            rest = sorted(make_rules(kit, path) - documented)
            if rest:
                out += ["Other targets, used by the ones above: "
                        + ", ".join(f"`{t}`" for t in rest) + ".", ""]
    return "\n".join(out) + "\n"
