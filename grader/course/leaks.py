"""Find an unpublished solution's code inside a student release (grader/course/dist.py).

A solution's *distinctive lines* are its lines that the lab's starter files do
not have (whitespace and comments removed, trivial lines like `}` or
`return 0;` ignored), grouped by the function (or file-scope block) they
belong to, and one more group per file: all of its distinctive lines. A
release file leaks a group when it holds at least half of the group's
distinctive lines, and at least two. Groups too small to tell a copy from a
coincidence (fewer than 3 lines and 100 characters, such as a one-line
overlap test the kit's own code also has) are not looked for alone, only as
part of their file. Renamed identifiers are not caught; a copy, even
reindented or stripped of its comments, is.

  solution_units(kit_files, lab)       -> [Unit]      what to look for
  find_leaks(release_files, units)     -> [Leak]      where it appears
"""
import math
import re
from dataclasses import dataclass, field

C_LIKE = (".c", ".h", ".S", ".s", ".inc")
PATCHES = (".patch", ".diff")
MIN_LINES = 3           # a group is looked for alone when it has this many lines
MIN_CHARS = 100         # ... or this many characters (whitespace removed)
TRIVIAL = re.compile(r"[{}()\[\];,]*|(return|break|continue|else|default|do)\W*.{0,12}|#(endif|else)\w*|.{0,9}")


@dataclass
class Unit:
    source: str                 # solutions/03-cr3/pte.c
    name: str                   # pte_print (or "file scope")
    lines: list                 # distinctive normalized lines, in order
    numbers: list               # their line numbers in the source


@dataclass
class Leak:
    unit: Unit
    path: str                   # the release file that holds it
    matched: list = field(default_factory=list)   # line numbers in that file

    def __str__(self):
        n, total = len(self.matched), len(self.unit.lines)
        where = ", ".join(map(str, self.matched[:8])) + (" ..." if n > 8 else "")
        return (f"{self.path} holds {n} of the {total} distinctive line(s) of "
                f"{self.unit.source}: {self.unit.name} (lines {where})")


def strip_comments(text, suffix):
    """C comments out (keeping line numbers); other files as they are."""
    if not suffix.endswith(C_LIKE):
        return text
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def normalize(line):
    return re.sub(r"\s+", "", line)


def significant(norm):
    return bool(norm) and not TRIVIAL.fullmatch(norm)


def unpatch(text):
    """A diff (.patch, .diff) as the code its hunks hold: each context, removed
    and added line without its marker, headers blanked (line numbers kept), so
    a patch against a solution reads like the solution's own lines."""
    keep = []
    for line in text.splitlines():
        diff_line = line[:1] in (" ", "-", "+") and not line.startswith(("--- ", "+++ "))
        keep.append(line[1:] if diff_line else "")
    return "\n".join(keep)


def normalized_lines(text, path):
    """[(line number, normalized line)] of a file's significant lines (a diff's: unpatch)."""
    if path.endswith(PATCHES):
        text, path = unpatch(text), path + ".c"
    out = []
    for i, line in enumerate(strip_comments(text, path).splitlines(), 1):
        n = normalize(line)
        if significant(n):
            out.append((i, n))
    return out


def c_units(text, path):
    """Split a C (or assembly) file into top-level blocks: [(name, [(lineno, line)])].
    A block runs from the line where a brace opens at depth 0 to the line that
    closes it; lines outside every block form the unit "file scope"."""
    units, depth, cur, name, scope = [], 0, None, None, []
    lines = strip_comments(text, path).splitlines()
    for i, line in enumerate(lines, 1):
        start_depth = depth
        depth += line.count("{") - line.count("}")
        if start_depth == 0 and cur is None and "{" in line:
            head = line if "(" in line else (lines[i - 2] if i > 1 else "") + line
            m = re.findall(r"(\w+)\s*\(", head.split("{")[0]) or re.findall(r"(\w+)\s*(?:\[|=)", head)
            name, cur = (m[-1] if m else f"block at line {i}"), []
            if "{" in line and "(" not in line and i > 1 and "(" in lines[i - 2] and scope \
                    and scope[-1][0] == i - 1:
                cur.append(scope.pop())   # the header on the line before the brace
        if cur is not None:
            cur.append((i, line))
            if depth <= 0:
                units.append((name, cur))
                cur, depth = None, 0
        else:
            scope.append((i, line))
    if cur:
        units.append((name, cur))
    if scope:
        units.append(("file scope", scope))
    return units


def solution_units(files, lab):
    """The distinctive units of solutions/<lab>: files maps path -> text (the kit's)."""
    starter_lines = set()
    for path, text in files.items():
        if path.startswith(f"starter/{lab}/"):
            starter_lines |= {n for _, n in normalized_lines(text, path)}
    units = []
    for path, text in sorted(files.items()):
        if not path.startswith(f"solutions/{lab}/"):
            continue
        twin = files.get(path.replace("solutions/", "starter/", 1))
        if twin is not None and normalize(twin) == normalize(text):
            continue    # same as the starter: nothing to hide
        blocks = c_units(text, path) if path.endswith(C_LIKE) else []
        whole = [(i, normalize(l)) for i, l in enumerate(strip_comments(text, path).splitlines(), 1)]
        for name, lines in blocks + [("the whole file", None)]:
            keep = whole if lines is None else [(i, normalize(l)) for i, l in lines]
            keep = [(i, n) for i, n in keep if significant(n) and n not in starter_lines]
            big = len(keep) >= MIN_LINES or sum(len(n) for _, n in keep) >= MIN_CHARS
            if keep and big and not (lines is None and len(blocks) == 1):
                units.append(Unit(path, name, [n for _, n in keep], [i for i, _ in keep]))
    return units


def leaks_unit(unit, have):
    """The matching distinctive lines when a file with line set `have` leaks unit."""
    hits = [n for n in unit.lines if n in have]
    total = len(set(unit.lines))
    distinct = len(set(hits))
    if distinct >= 2 and distinct >= math.ceil(total / 2):
        return hits
    return None


def find_leaks(release, units):
    """Every (unit, release file) pair where the file holds the unit's code.
    release maps path -> text (binary files left out by the caller)."""
    found = []
    for path, text in sorted(release.items()):
        lines = normalized_lines(text, path)
        index = {}
        for i, n in lines:
            index.setdefault(n, i)
        have = set(index)
        for unit in units:
            hits = leaks_unit(unit, have)
            if hits:
                found.append(Leak(unit, path, sorted({index[h] for h in hits})))
    return found
