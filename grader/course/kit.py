"""The kit a class is graded with: its labs (from each lab.mk), the solutions
its course.toml publishes, its own files, and the pristine copy each
submission is graded in."""
import os
import re
import shutil
import subprocess
from pathlib import Path

from course import config
from course.procs import clean_env


def parse_lab_mk(text):
    """The LAB_* lists of a lab.mk (`:=`, `=`, `+=`, backslash continuations).
    Raises ValueError on anything computed (a `$`): the caller asks make instead."""
    lists = {"LAB_KIT_SRCS": [], "LAB_STUDENT_SRCS": [], "LAB_DEPS": []}
    for line in text.replace("\\\n", " ").splitlines():
        m = re.match(r"\s*(LAB_\w+)\s*(\+=|::=|:=|\?=|=)(.*)$", line.split("#", 1)[0])
        if not m or m.group(1) not in lists:
            continue
        name, op, words = m.group(1), m.group(2), m.group(3).split()
        if any("$" in w for w in words):
            raise ValueError(f"{name} is computed")
        if op == "+=":
            lists[name] += words
        elif op != "?=" or not lists[name]:
            lists[name] = words
    return lists


class Kit:
    """A kit tree: its labs (from each lab.mk), the solutions its course.toml
    publishes, and the files a grading copy takes."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        self.published = config.load(self.root).published
        self.labs = {}
        for d in sorted((self.root / "labs").glob("[0-9][0-9]-*")):
            if (d / "lab.mk").is_file():
                self.labs[d.name] = self._lab_lists(d)
        self.files = kit_files(self.root)
        self.file_set = set(self.files)
        self.basenames = {f.rsplit("/", 1)[-1] for f in self.files}
        # bare uploads: a path under a lab's starter folder -> that lab, when unique
        seen = {}
        for f in self.files:
            parts = f.split("/")
            if parts[0] == "starter" and len(parts) >= 3 and parts[1] in self.labs:
                seen.setdefault("/".join(parts[2:]), []).append(parts[1])
        self.bare = {rel: labs[0] for rel, labs in seen.items() if len(labs) == 1}
        self.shadowed = self._header_names()

    def _lab_lists(self, d):
        try:
            lists = parse_lab_mk((d / "lab.mk").read_text())
        except ValueError:
            lists = {}
            for name, var in (("LAB_STUDENT_SRCS", "STUDENT_SRCS"), ("LAB_DEPS", "DEPS"),
                              ("LAB_KIT_SRCS", "KIT_SRCS")):
                r = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(d),
                                    f"print-{var}.{d.name}"], capture_output=True, text=True,
                                   env=clean_env())
                lists[name] = r.stdout.split()
        return {"student": lists["LAB_STUDENT_SRCS"], "deps": lists["LAB_DEPS"]}

    def _header_names(self):
        """Header names a student header must not take: it would shadow the
        compiler's or the kit's own header for the kit's files (the student
        folders are on the include path of the whole snapshot)."""
        names = {Path(f).name for f in self.files
                 if f.startswith("labs/") and f.endswith(".h")}
        r = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True, text=True)
        gcc_inc = Path(r.stdout.strip())
        if gcc_inc.is_dir():
            names |= {p.name for p in gcc_inc.glob("*.h")}
        return names

    def resolve_lab(self, name):
        if name in self.labs:
            return name
        hits = [l for l in self.labs if l.startswith(name) or l[3:] == name]
        if len(hits) != 1:
            raise SystemExit(f"batch: unknown lab '{name}' (labs: {' '.join(self.labs)})")
        return hits[0]


def kit_files(root):
    """The kit's own files, relative: what git tracks or would track (build/
    and other ignored files left out); a plain walk when the kit is no git tree."""
    root = Path(root)
    if (root / ".git").exists():
        r = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"],
                           capture_output=True)
        if r.returncode == 0:
            names = {n for n in r.stdout.decode("utf-8", "surrogateescape").split("\0") if n}
            return sorted(n for n in names if (root / n).is_file() and not (root / n).is_symlink())
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if d not in (".git", "__pycache__", ".pytest_cache")
                       and not (rel == "." and d == "build")]
        for f in filenames:
            p = os.path.normpath(os.path.join(rel, f))
            if f.endswith(".pyc") or p == "compile_commands.json" or os.path.islink(os.path.join(dirpath, f)):
                continue
            out.append(p)
    return sorted(out)


# What a grading copy leaves out besides the solutions (see arrange_solutions):
# files no build or grade run reads, more than half the kit's files (the
# mutation suite alone is 238). Each file copied costs ~0.5 ms of CPU here
# (ext4 allocates an inode), and a batch copies the kit once per submission.
NOT_GRADED = ("grader/mutants/", "grader/selftest/", "grader/abuse/", "handouts/", ".ci/")


def make_copy(kit, dest, skip=("solutions/",) + NOT_GRADED):
    """Copy the kit's files (not its solutions: see arrange_solutions; not
    NOT_GRADED) into dest."""
    for f in kit.files:
        if f.startswith(skip):
            continue
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(kit.root / f, target)


def arrange_solutions(kit, copy, lab):
    """Leave in copy/solutions exactly the published solutions lab links (those
    of its LAB_DEPS that course.toml publishes and the kit has), never lab's
    own: a student file could #include it. The copy's course.toml is the kit's,
    so its build rules link the same ones."""
    sol = copy / "solutions"
    shutil.rmtree(sol, ignore_errors=True)
    for dep in kit.labs[lab]["deps"]:
        src = kit.root / "solutions" / dep
        if dep != lab and dep in kit.published and src.is_dir():
            for f in kit.files:
                if f.startswith(f"solutions/{dep}/"):
                    (copy / f).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(kit.root / f, copy / f)
