#!/usr/bin/python3
"""Names a handout gives in code that must exist in the kit.

    names.py [HANDOUT.md ...]      print every dangling name (all handouts by default)

Read from pandoc's syntax tree, so only code counts (inline `code` and code
blocks), never prose:
  * make targets: `make grade LAB=02`, `make -C labs/03-cr3` (the folder and the
    target of its rules); in code blocks, lines that start with make
  * monitor commands: `lab> walk VA` anywhere; in a lab handout also the first
    code of a table column headed "command", and `walk` in "the `walk` command".
    A lab handout's `lab> ` lines and command tables must name commands of that
    lab's kernel (the core's plus its own); other mentions, any lab's command
  * grader tests: `test_tss_stacks` (in that lab's grader/test_NN_*.py; with the
    points a "points" column gives)
  * files: `labs/kernel/paging.c`, `starter/<lab>/` (placeholders in <> match
    anything), and bare names with a source extension (`cr3.c`: some file of the
    tree ends so). Paths under build/ are outputs and are not checked.
"""
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SITE = Path(__file__).resolve().parent
sys.path.insert(0, str(SITE))
import reference  # noqa: E402

SOURCE_EXT = (".c", ".h", ".S", ".py", ".md", ".mk", ".ld", ".cfg", ".lua", ".sh")
SKIP_DIRS = {".git", "build", "__pycache__", ".pytest_cache"}
NOT_MONITOR = {"info", "x", "xp", "p", "print", "monitor", "kit", "gdb", "break", "b",
               "continue", "c", "si", "ni", "stepi", "bt", "make", "git", "addr2line"}


@dataclass
class Mention:
    kind: str      # make | command | lab-command | test | file
    name: str
    context: str   # the code it came from
    extra: dict


@dataclass
class Dangling:
    handout: str   # handouts/03-cr3.md
    line: int
    what: str

    def __str__(self):
        return f"{self.handout}:{self.line}: {self.what}"


# ---- walking pandoc's tree --------------------------------------------------------

def pandoc_tree(path):
    r = subprocess.run(["pandoc", "-f", "markdown-yaml_metadata_block", "-t", "json", str(path)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def _text(node):
    """Plain text of an inline list or block list."""
    if isinstance(node, list):
        return "".join(_text(n) for n in node)
    if isinstance(node, dict):
        t, c = node.get("t"), node.get("c")
        if t == "Str":
            return c
        if t in ("Space", "SoftBreak", "LineBreak"):
            return " "
        if t == "Code":
            return c[1]
        return _text(c) if c is not None else ""
    return ""


class Collector:
    """Collects mentions from the tree, with the little context the rules need."""

    def __init__(self, lab_handout):
        self.found = []
        self.lab_handout = lab_handout

    def add(self, kind, name, context, **extra):
        self.found.append(Mention(kind, name, context, extra))

    def walk(self, node, column=None):
        if isinstance(node, list):
            if node and all(isinstance(n, dict) and "t" in n for n in node):
                self.inlines(node, column)
            for n in node:
                self.walk(n, column)
        elif isinstance(node, dict):
            t = node.get("t")
            if t == "Table":
                self.table(node["c"])
                return
            if t == "CodeBlock":
                self.code_block(node["c"][1])
                return
            if "c" in node:
                self.walk(node["c"], column)

    def table(self, c):
        _, _, _, head, bodies, _ = c
        head_rows = head[1]
        headers = [_text(cell[4]).strip().lower() for cell in head_rows[0][1]] if head_rows else []
        for body in bodies:
            for row in body[2] + body[3]:
                cells = row[1]
                points = None
                if "points" in headers and headers.index("points") < len(cells):
                    text = _text(cells[headers.index("points")][4])
                    m = re.search(r"\d+\s*[×x*]\s*(\d+)", text) or re.search(r"(\d+)", text)
                    points = int(m.group(1)) if m else None
                for i, cell in enumerate(cells):
                    col = headers[i] if i < len(headers) else None
                    info = {"column": col, "first": i == 0, "points": points}
                    self.walk(cell[4], info)

    def inlines(self, items, column):
        first_code = True
        for i, n in enumerate(items):
            if n.get("t") != "Code":
                continue
            code = n["c"][1]
            after = next((_text(x) for x in items[i + 1:] if x.get("t") not in ("Space", "SoftBreak")), "")
            before = next((_text(x) for x in reversed(items[:i]) if x.get("t") not in ("Space", "SoftBreak")), "")
            self.code_span(code, before, after, column if first_code else None, column)
            first_code = False

    def code_span(self, code, before, after, cell_first, column):
        code = code.strip()
        self.make_line(code, code)
        self.prompt_line(code, code)
        word = code.split()[0] if code.split() else ""
        if self.lab_handout and cell_first and cell_first.get("first") \
                and cell_first.get("column") == "command":
            if not code.startswith("lab> "):
                self.add("lab-command", word, code)
        elif self.lab_handout and re.match(r"commands?\b", after) and before not in ("QEMU's", "gdb's", "gdb", "QEMU") \
                and re.fullmatch(r"[a-z][a-z0-9_]*", word) and word not in NOT_MONITOR:
            self.add("command", word, code)
        if re.fullmatch(r"test_\w+", code):
            pts = column.get("points") if column and column.get("first") else None
            self.add("test", code, code, points=pts)
        self.path(code)

    def code_block(self, text):
        for line in text.splitlines():
            self.prompt_line(line, line.strip())
            m = re.match(r"^\s*(?:\$\s+|[\w ]{1,20}:\s+)?((?:[A-Z_]+=\S+\s+)*make(?:\s.*)?)$", line)
            if m:
                self.make_line(m.group(1), line.strip())

    def prompt_line(self, line, context):
        m = re.match(r"^\s*lab>\s+([a-z][\w-]*)", line)
        if m:
            self.add("lab-command", m.group(1), context)

    def make_line(self, text, context):
        m = re.match(r"^(?:[A-Z_]+=\S+\s+)*make(\s.*)?$", text.strip())
        if not m:
            return
        words = re.split(r"[#;&|)`]", m.group(1) or "")[0].split()
        directory, targets, i = None, [], 0
        while i < len(words):
            w = words[i]
            if w == "make":          # `make a  and  make b`: the second command starts here
                break
            if w == "-C" and i + 1 < len(words):
                directory = words[i + 1]
                i += 2
                continue
            if not (w.startswith("-") or "=" in w or "<" in w or "." * 2 in w):
                targets.append(w)
            i += 1
        self.add("make", " ".join(targets), context, directory=directory, targets=targets)

    def path(self, code):
        if " " in code or not re.fullmatch(r"[\w.<>*/+-]+", code) or code.startswith(("/", "$", "~", ".")):
            return
        top = code.split("/")[0]
        if "/" in code and top in ("labs", "starter", "solutions", "grader", "handouts", "build"):
            self.add("file", code, code)
        elif "/" in code and re.search(r"\.\w+$", code) and code.endswith(SOURCE_EXT):
            self.add("file", code, code)
        elif "/" not in code and code.endswith(SOURCE_EXT) and not re.fullmatch(r"[\d.]+", code):
            self.add("file", code, code)


# ---- what exists --------------------------------------------------------------------

class Kit:
    """The kit's names: make targets, monitor commands, grader tests, files."""

    def __init__(self, root):
        self.root = Path(root)
        self.files = sorted(str(p.relative_to(self.root)) for p in self._walk(self.root))
        self.dirs = {str(Path(f).parent) for f in self.files}
        for d in list(self.dirs):
            while d not in ("", "."):
                d = str(Path(d).parent)
                self.dirs.add(d)
        self.commands = reference.monitor_commands(self.root)
        self.all_commands = {c.name for cmds in self.commands.values() for c in cmds}
        self.tests = self._tests()
        self.tool_text = "\n".join(p.read_text(errors="replace") for p in self._tools())

    def _walk(self, d):
        for p in d.iterdir():
            if p.name in SKIP_DIRS:
                continue
            if p.is_dir():
                yield from self._walk(p)
            else:
                yield p

    def _tools(self):
        """The kit's scripts and build rules: the files they write count as named."""
        for f in self.files:
            if f.endswith((".py", ".mk")) or f in ("Makefile", "grader/course/gradescope/run_autograder"):
                yield self.root / f

    def produced(self, name):
        """Some script or rule of the kit writes a file of this name."""
        return re.search(r"[\"'/ ]" + re.escape(name) + r"[\"' ]", self.tool_text) is not None

    def _tests(self):
        """{lab number: {test name: points}} from grader/test_NN_*.py."""
        tests = {}
        for f in sorted((self.root / "grader").glob("test_[0-9][0-9]_*.py")):
            text = f.read_text(errors="replace")
            found = tests.setdefault(f.name[5:7], {})
            for m in re.finditer(r"^def (test_\w+)", text, re.M):
                head = text[:m.start()].rstrip().splitlines()[-6:]
                pts = [int(x) for x in re.findall(r"@pytest\.mark\.points\((\d+)\)", "\n".join(head))]
                found[m.group(1)] = pts[-1] if pts else None
        return tests

    def lab_commands(self, lab):
        return {c.name for c in self.commands.get(reference.CORE, []) + self.commands.get(lab, [])}

    def path_exists(self, path):
        if path.startswith("build/"):
            return True
        pattern = re.sub(r"<[^>]*>", "*", path.rstrip("/"))
        rx = re.compile("^" + re.escape(pattern).replace(r"\*", "[^/]+") + "$")
        names = self.dirs if path.endswith("/") else set(self.files) | self.dirs
        if "/" in path and path.split("/")[0] in ("labs", "starter", "solutions", "grader", "handouts"):
            return any(rx.match(n) for n in names)
        tail = re.compile("(^|/)" + rx.pattern[1:])
        return any(tail.search(n) for n in names)


def check_handout(kit, path):
    """The dangling names of one handout."""
    path = Path(path)
    rel = str(path.resolve().relative_to(kit.root)) if path.resolve().is_relative_to(kit.root) else str(path)
    lab = path.stem if re.match(r"\d\d-", path.stem) else None
    col = Collector(lab is not None)
    col.walk(pandoc_tree(path)["blocks"])
    lines = path.read_text(errors="replace").splitlines()

    def where(text):
        for i, l in enumerate(lines, 1):
            if text in l:
                return i
        return 0

    out, seen = [], set()

    def bad(context, what):
        key = (context, what)
        if key not in seen:
            seen.add(key)
            out.append(Dangling(rel, where(context), what))

    make_rules = reference.make_rules(kit.root)
    for m in col.found:
        if m.kind == "make":
            d = m.extra["directory"]
            if d:
                if d.rstrip("/") not in kit.dirs and not kit.path_exists(d.rstrip("/") + "/"):
                    bad(m.context, f"`make -C {d}`: no folder {d} (in `{m.context}`)")
                # a folder's own Makefile, or the shared rules it includes
                own = d.rstrip("/") + "/Makefile"
                own_text = (kit.root / own).read_text() if (kit.root / own).is_file() else ""
                shared = re.search(r"^include .*rules\.mk", own_text, re.M)
                src = "labs/rules.mk" if shared or not own_text else own
                rules = reference.make_rules(kit.root, src)
                pats = reference.make_patterns(kit.root, src)
            else:
                rules, pats = make_rules, []
            for t in m.extra["targets"]:
                if t not in rules and not any(p.match(t) for p in pats):
                    bad(m.context, f"make target `{t}` does not exist (in `{m.context}`)")
        elif m.kind == "lab-command":
            have = kit.lab_commands(lab) if lab else kit.all_commands
            if m.name not in have:
                whose = f"lab {lab}'s kernel" if lab else "any lab's kernel"
                bad(m.context, f"monitor command `{m.name}` is not in {whose} (in `{m.context}`)")
        elif m.kind == "command":
            if m.name not in kit.all_commands:
                bad(m.context, f"monitor command `{m.name}` is not in any MONITOR_COMMAND table")
        elif m.kind == "test":
            pool = kit.tests.get(lab[:2], {}) if lab else {k: v for t in kit.tests.values() for k, v in t.items()}
            if m.name not in pool:
                bad(m.context, f"grader test `{m.name}` does not exist"
                    + (f" in grader/test_{lab[:2]}_*.py" if lab else ""))
            elif m.extra.get("points") is not None and pool[m.name] is not None \
                    and m.extra["points"] != pool[m.name]:
                bad(m.context, f"grader test `{m.name}` is worth {pool[m.name]} points, "
                    f"the handout says {m.extra['points']}")
        elif m.kind == "file":
            if not kit.path_exists(m.name) and not kit.produced(m.name):
                bad(m.context, f"file `{m.name}` is not in the kit")
    return out


def check_all(root, handouts=None):
    kit = Kit(root)
    paths = handouts or sorted((kit.root / "handouts").glob("*.md"))
    return [d for p in paths for d in check_handout(kit, p)]


def main():
    root = SITE.parents[1]
    found = check_all(root, [Path(a) for a in sys.argv[1:]] or None)
    for d in found:
        print(d)
    print(f"{len(found)} dangling name(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
