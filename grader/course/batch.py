#!/usr/bin/python3
"""Grade a class: every submission in a folder, each in a pristine copy of the kit.

    batch.py SUBMISSIONS [--lab L]... [--out DIR] [--jobs N] [--timeout SECONDS] [--keep]

A submission is a directory, a tarball (.tar .tar.gz .tgz .tar.xz .tar.bz2), a
.zip or a git bundle (.bundle); its name without the extension is the student id.
Only the student files are taken from it: regular .c/.h/.S files under
starter/<lab>/ (a bare upload of files named like a lab's student files also
works). They are written into a fresh copy of the kit, so nothing in a
submission can change the grader, the Makefile or the kernel core. Links,
device files, paths that leave the submission, oversized files and archive
bombs refuse the whole submission, with the reason.

Output in DIR (default build/grade-class): gradebook.csv, gradebook.json and
logs/<student>.log. Exits 0 once the gradebook is written (refused, build-error
and timeout are verdicts on submissions), 1 when the grader itself failed on a
submission (status error), 2 on a usage error.
"""
import argparse
import csv
import ctypes
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

GRADER = Path(__file__).resolve().parents[1]
KIT_ROOT = GRADER.parent
PY = "/usr/bin/python3"
sys.path.insert(0, str(GRADER))
from course import config  # noqa: E402

# ---- intake limits ---------------------------------------------------------------
MAX_FILE = 256 << 10           # one student file
MAX_TAKEN = 2 << 20            # all the student files of one submission
MAX_ENTRIES = 20000            # entries in an archive or a submission folder
MAX_UNPACKED = 64 << 20        # bytes an archive may unpack to (whole repositories fit)
MAX_ARCHIVE = 32 << 20         # size of a tarball, zip or bundle on disk
MAX_DEPTH = 4                  # folders below starter/<lab>/
STUDENT_EXTS = (".c", ".h", ".S")
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
# Directives that read another file while assembling (the -MMD dependency check
# cannot see them): refused in student files.
ASM_FILE_DIRECTIVE = re.compile(rb"incbin|\.\s*include\b", re.IGNORECASE)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
FORMATS = TAR_SUFFIXES + (".zip", ".bundle")
GIT_TIMEOUT = 60
# Environment a grade run must not inherit: make reads variables from it
# (SOLUTION=1 would grade the solution), and from MAKEFLAGS when run under make.
SCRUBBED_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "SOLUTION", "SUBMISSION",
                "SUBMISSIONS", "BUILD", "LAB", "TEST", "V", "OUT", "PYTHONPATH", "PYTHONHOME",
                "PYTHONSTARTUP", "CFLAGS", "LDFLAGS", "GRADESCOPE")
KEPT_KIT_ENV = ("KIT_SEED", "KIT_QEMU", "KIT_BOOT_TIMEOUT", "KIT_COMMAND_TIMEOUT")
TAG_VAR = "KIT_BATCH_TAG"
PR_SET_CHILD_SUBREAPER = 36    # prctl(2): orphaned descendants become our children
AS_REPORT_VAR = "KIT_AS_REPORT"
# The assembler the batch build puts first (gcc -B): it reads what a student
# object is assembled from, after the preprocessor and after C string literals
# are joined, and refuses directives that read other files (.incbin, .include)
# or that build a directive's name from a macro argument (.\\arg).
AS_WRAPPER = r'''#!/usr/bin/python3
import os, re, subprocess, sys
REAL = {real!r}
BAD = re.compile(rb"(?:^|;)[ \t]*(?:[\w.$]+:[ \t]*)*\.(?:incbin|include\b|\w*\\)", re.I | re.M)
args = sys.argv[1:]
out = args[args.index("-o") + 1] if "-o" in args[:-1] else ""
if "/obj/student-" not in out:
    os.execv(REAL, [REAL] + args)
inputs, skip = [], False
for a in args:
    if skip:
        skip = False
    elif a in ("-o", "-I", "--MD"):
        skip = True
    elif not a.startswith("-"):
        inputs.append(a)
data = b"".join(open(f, "rb").read() for f in inputs) if inputs else sys.stdin.buffer.read()
m = BAD.search(data)
if m:
    why = m.group(0).strip().decode(errors="replace")
    sys.stderr.write(f"kit: {{out}}: the assembler directive '{{why}}' is not allowed in student code\n")
    with open(os.environ.get({report!r}, os.devnull), "a") as f:
        f.write(why + "\n")
    sys.exit(1)
if inputs:
    os.execv(REAL, [REAL] + args)
sys.exit(subprocess.run([REAL] + args, input=data).returncode)
'''


# ---- the kit ----------------------------------------------------------------------
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


def make_copy(kit, dest, skip=("solutions/",)):
    """Copy the kit's files (not its solutions: see arrange_solutions) into dest."""
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


# ---- reading a submission -----------------------------------------------------------
class Refused(Exception):
    """The submission cannot be graded: str() says why, for the student."""


class Entry:
    """One thing found in a submission: kind is file, dir, symlink, hardlink,
    device or other; data holds a file's first bytes when they were read."""
    __slots__ = ("path", "kind", "size", "target", "data", "reader")

    def __init__(self, path, kind, size=0, target="", data=None, reader=None):
        self.path, self.kind, self.size, self.target = path, kind, size, target
        self.data, self.reader = data, reader

    def read(self, limit):
        if self.data is None and self.reader is not None:
            self.data = self.reader(limit)
        return self.data


def check_path(path):
    """The normalized relative path of an archive member; Refused when it leaves
    the submission."""
    if "\0" in path:
        raise Refused(f"'{path!r}' has a NUL byte in its name")
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        raise Refused(f"'{path}' is an absolute path: the archive would write outside its folder")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused(f"'{path}' contains '..': the archive would write outside its folder")
    return "/".join(parts)


class Budget:
    """Counts entries and unpacked bytes; Refused (archive bomb) past the limits."""

    def __init__(self):
        self.entries = 0
        self.bytes = 0

    def entry(self, size=0):
        self.entries += 1
        self.bytes += max(size, 0)
        if self.entries > MAX_ENTRIES:
            raise Refused(f"more than {MAX_ENTRIES} entries (an archive bomb?)")
        if self.bytes > MAX_UNPACKED:
            raise Refused(f"unpacks to more than {MAX_UNPACKED >> 20} MiB (an archive bomb?)")


class LimitedReader:
    """A read-only stream that fails once more than `limit` bytes came out of it,
    so a compressed bomb is stopped while it is being decompressed."""

    def __init__(self, f, limit):
        self.f, self.limit, self.total = f, limit, 0

    def read(self, n=-1):
        data = self.f.read(n if n is not None and n >= 0 else self.limit + 1)
        self.total += len(data)
        if self.total > self.limit:
            raise Refused(f"unpacks to more than {self.limit >> 20} MiB (an archive bomb?)")
        return data


def wanted(path, kit):
    """Whether an archive member's bytes are worth reading during the single pass:
    a possible student file, or a kit file whose changes we report."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(STUDENT_EXTS) or name in kit.basenames


def scan_dir(root, kit):
    """Entries of a submission folder (the .git folder is not looked at)."""
    budget = Budget()
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = os.path.relpath(dirpath, root)
        keep = []
        for name in sorted(dirnames) + sorted(filenames):
            if name == ".git":
                continue
            full = os.path.join(dirpath, name)
            path = os.path.normpath(os.path.join(rel, name))
            st = os.lstat(full)
            budget.entry()
            if stat.S_ISLNK(st.st_mode):
                out.append(Entry(path, "symlink", target=os.readlink(full)))
            elif stat.S_ISDIR(st.st_mode):
                out.append(Entry(path, "dir"))
                if name in dirnames:
                    keep.append(name)
            elif stat.S_ISREG(st.st_mode):
                kind = "hardlink" if st.st_nlink > 1 else "file"
                out.append(Entry(path, kind, st.st_size,
                                 reader=lambda limit, full=full: read_regular(full, limit)))
            else:
                out.append(Entry(path, "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                                 else "other"))
        dirnames[:] = keep
    return out


def read_regular(path, limit):
    """At most limit+1 bytes of a regular file, never through a link or a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused(f"'{path}' is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)
    finally:
        os.close(fd)


def open_decompressed(path):
    """The uncompressed byte stream of a (maybe gzip/xz/bzip2) tarball, bounded."""
    raw = open(path, "rb")
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        import gzip
        f = gzip.GzipFile(fileobj=raw)
    elif magic.startswith(b"\xfd7zXZ\x00"):
        import lzma
        f = lzma.LZMAFile(raw)
    elif magic.startswith(b"BZh"):
        import bz2
        f = bz2.BZ2File(raw)
    else:
        f = raw
    return raw, LimitedReader(f, MAX_UNPACKED + (1 << 20))


def scan_tar(path, kit):
    """Entries of a tarball, read in one streaming pass: nothing is extracted to disk."""
    budget = Budget()
    out = []
    raw, stream = open_decompressed(path)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tf:
            for m in tf:
                name = check_path(m.name)
                budget.entry(m.size if m.isreg() else 0)
                if m.issym():
                    out.append(Entry(name, "symlink", target=m.linkname))
                elif m.islnk():
                    out.append(Entry(name, "hardlink", target=m.linkname))
                elif m.isdir():
                    out.append(Entry(name, "dir"))
                elif m.isreg():
                    data = None
                    if m.size <= MAX_FILE and wanted(name, kit):
                        data = tf.extractfile(m).read(MAX_FILE + 1)
                    out.append(Entry(name, "file", m.size, data=data))
                elif m.ischr() or m.isblk():
                    out.append(Entry(name, "device"))
                else:
                    out.append(Entry(name, "other"))
    except Refused:
        raise
    except Exception as e:  # tarfile, gzip, zlib, lzma and bz2 each have their own errors
        raise Refused(f"not a readable tar archive ({type(e).__name__}: {e})")
    finally:
        raw.close()
    return out


def scan_zip(path, kit):
    """Entries of a zip archive (sizes from its directory, reads bounded)."""
    budget = Budget()
    out = []
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = check_path(info.filename)
                mode = info.external_attr >> 16
                budget.entry(info.file_size)
                if stat.S_ISLNK(mode):
                    out.append(Entry(name, "symlink", target=zf.read(info)[:256].decode(errors="replace")))
                elif info.is_dir() or stat.S_ISDIR(mode):
                    out.append(Entry(name, "dir"))
                elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # no type bits: a file
                    out.append(Entry(name, "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "other"))
                else:
                    data = None
                    if info.file_size <= MAX_FILE and wanted(name, kit):
                        with zf.open(info) as f:
                            data = f.read(MAX_FILE + 1)
                    out.append(Entry(name, "file", info.file_size, data=data))
    except Refused:
        raise
    except Exception as e:  # zipfile, zlib, lzma and bz2 each have their own errors
        raise Refused(f"not a readable zip archive ({type(e).__name__}: {e})")
    return out


def git_env(home, extra=None):
    env = clean_env(extra)
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0",
               GIT_CONFIG_GLOBAL=os.devnull)
    return env


def scan_bundle(path, tmp, procs, env_extra=None):
    """Entries of the tree a git bundle's HEAD (or its only branch) points to.
    Objects are read from a private bare repository; nothing is checked out."""
    repo = Path(tmp) / "bundle.git"
    env = git_env(tmp, env_extra)

    def git(*args):
        r = procs.run(["git", *args], env=env, timeout=GIT_TIMEOUT, capture=True)
        if r.returncode != 0:
            raise Refused(f"not a usable git bundle (git {args[0]}: "
                          f"{r.stderr.decode(errors='replace').strip()[-300:]}); make it with: "
                          "git bundle create <name>.bundle HEAD main")
        return r.stdout

    git("init", "-q", "--bare", str(repo))
    heads = {}
    for line in git("-C", str(repo), "bundle", "list-heads", str(path)).decode(errors="replace").splitlines():
        sha, _, ref = line.partition(" ")
        heads[ref.strip()] = sha
    branches = [r for r in heads if r.startswith("refs/heads/")]
    ref = ("HEAD" if "HEAD" in heads else branches[0] if len(branches) == 1 else
           next((r for r in ("refs/heads/main", "refs/heads/master") if r in heads), None))
    if ref is None:
        raise Refused("the git bundle has no HEAD and no single branch to grade "
                      "(make it with: git bundle create <name>.bundle HEAD main)")
    git("-C", str(repo), "-c", "transfer.fsckObjects=true", "fetch", "-q", "--no-tags",
        str(path), f"+{ref}:refs/kit/graded")
    listing = git("-C", str(repo), "ls-tree", "-r", "-z", "--long", "--full-tree", "refs/kit/graded")
    budget = Budget()
    out = []
    for rec in listing.split(b"\0"):
        if not rec:
            continue
        meta, _, name = rec.partition(b"\t")
        mode, otype, sha, size = meta.split()
        name = check_path(name.decode("utf-8", "surrogateescape"))
        size = int(size) if size.isdigit() else 0
        budget.entry(size)
        sha = sha.decode()

        def blob(limit, sha=sha):
            return git("-C", str(repo), "cat-file", "blob", sha)[:limit + 1]
        if mode == b"120000":
            out.append(Entry(name, "symlink", target=blob(255).decode(errors="replace")))
        elif otype == b"commit":
            out.append(Entry(name, "other"))  # a submodule
        else:
            out.append(Entry(name, "file", size, reader=blob))
    return out


class Intake:
    """What a submission gives the grader: files (path under the kit -> bytes),
    and notes for the log."""

    def __init__(self, name):
        self.name = name
        self.files = {}
        self.notes = []
        self.ignored = []   # (path, why)

    def summary(self):
        lines = [f"taken: {p} ({len(d)} bytes)" for p, d in sorted(self.files.items())]
        lines += self.notes
        for p, why in self.ignored[:40]:
            lines.append(f"ignored: {p}: {why}")
        if len(self.ignored) > 40:
            lines.append(f"ignored: ... and {len(self.ignored) - 40} more")
        return lines


def submission_kind(path):
    """'dir', 'tar', 'zip', 'bundle' or None."""
    p = Path(path)
    if p.is_symlink():
        return "symlink"
    if p.is_dir():
        return "dir"
    name = p.name.lower()
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".bundle"):
        return "bundle"
    return None


def student_id(path):
    name = Path(path).name
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def find_root(paths):
    """The folder of a submission that holds starter/ (the archive's root, or its
    only top-level folder), and whether the upload is bare files instead."""
    if any(p.startswith("starter/") for p in paths):
        return "", False
    tops = {p.split("/", 1)[0] for p in paths}
    if len(tops) == 1:
        top = tops.pop()
        if any(p.startswith(f"{top}/starter/") for p in paths):
            return top + "/", False
        if any("/" in p for p in paths):
            return top + "/", True
    return "", True


def read_submission(path, kit, tmp, procs, env_extra=None):
    """Intake of one submission; Refused with the reason when it must not be graded."""
    intake = Intake(student_id(path))
    kind = submission_kind(path)
    if kind == "symlink":
        raise Refused("the submission itself is a symbolic link")
    if kind is None:
        raise Refused(f"unknown format: a submission is a folder, {', '.join(FORMATS)}")
    if kind != "dir":
        size = os.lstat(path).st_size
        if size > MAX_ARCHIVE:
            raise Refused(f"the archive is {size >> 20} MiB; the limit is {MAX_ARCHIVE >> 20} MiB")
    if kind == "dir":
        entries = scan_dir(path, kit)
    elif kind == "tar":
        entries = scan_tar(path, kit)
    elif kind == "zip":
        entries = scan_zip(path, kit)
    else:
        entries = scan_bundle(path, tmp, procs, env_extra)
    take(entries, kit, intake)
    return intake


def take(entries, kit, intake):
    """Apply the intake rules to a submission's entries (see the module docstring)."""
    for e in entries:
        if e.kind == "symlink":
            raise Refused(f"'{e.path}' is a symbolic link (to '{e.target}'); links are not accepted")
        if e.kind == "hardlink":
            raise Refused(f"'{e.path}' is a hard link{f' (to {e.target!r})' if e.target else ''}; "
                          "links are not accepted")
        if e.kind == "device":
            raise Refused(f"'{e.path}' is a device file")
        if e.kind == "other" and (e.path.startswith("starter/") or "/starter/" in e.path):
            raise Refused(f"'{e.path}' is not a regular file (a FIFO, socket or submodule)")
    files = [e for e in entries if e.kind == "file"]
    root, bare = find_root([e.path for e in files])
    taken_bytes = 0
    for e in files:
        rel = e.path[len(root):] if e.path.startswith(root) else None
        dest, why = student_path(rel, bare, kit) if rel is not None else (None, "outside the submission's folder")
        if dest is None:
            note_ignored(e, rel, why, kit, intake)
            continue
        if e.size > MAX_FILE:
            raise Refused(f"'{e.path}' is {e.size >> 10} KiB; the limit is {MAX_FILE >> 10} KiB per file")
        data = e.read(MAX_FILE)
        if data is None or len(data) > MAX_FILE:
            raise Refused(f"'{e.path}' is larger than {MAX_FILE >> 10} KiB")
        if dest in intake.files:
            raise Refused(f"two entries give {dest} (one is '{e.path}')")
        if ASM_FILE_DIRECTIVE.search(data):
            raise Refused(f"'{e.path}' uses an assembler .incbin/.include: student files may not "
                          "read other files while they are built")
        taken_bytes += len(data)
        if taken_bytes > MAX_TAKEN:
            raise Refused(f"the student files add up to more than {MAX_TAKEN >> 20} MiB")
        intake.files[dest] = data


def student_path(rel, bare, kit):
    """(kit path under starter/, None) for a student file, else (None, why ignored)."""
    parts = rel.split("/")
    if parts[0] == "starter" and len(parts) > 1:
        parts = parts[1:]
    elif bare and parts[0] in kit.labs:
        pass
    elif bare and rel in kit.bare:
        parts = [kit.bare[rel]] + parts
    else:
        return None, "outside starter/ (the kit's own file is used)"
    lab, sub = parts[0], parts[1:]
    if lab not in kit.labs:
        return None, f"starter/{lab} is not a lab of this kit"
    if not sub:
        return None, "not a file of a lab folder"
    if len(sub) > MAX_DEPTH + 1 or not all(SAFE_NAME.match(p) for p in sub):
        return None, "a name or depth the grader does not take"
    if not sub[-1].endswith(STUDENT_EXTS):
        return None, "not a .c, .h or .S file"
    if sub[-1].endswith(".h") and sub[-1] in kit.shadowed:
        return None, (f"a header named like the compiler's or the kit's own {sub[-1]} "
                      "(it would replace it for the kit's files): rename it")
    return "/".join(["starter", lab] + sub), None


def note_ignored(e, rel, why, kit, intake):
    """Record an ignored file; say so loudly when it is a changed copy of a kit file."""
    if rel in kit.file_set and e.size <= MAX_FILE:
        data = e.read(MAX_FILE)
        if data is not None:
            if data == (kit.root / rel).read_bytes():
                return  # the kit's own file, unchanged: nothing to say
            intake.notes.append(f"NOTE: {rel} differs from the kit's; ignored (grading uses the kit's)")
            return
    intake.ignored.append((e.path, why))


# ---- processes -----------------------------------------------------------------------
def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k not in SCRUBBED_ENV and (not k.startswith("KIT_") or k in KEPT_KIT_ENV)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def _proc_entries():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def pid_tag(pid):
    """The batch tag in a process's environment, or None."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return None
    needle = f"{TAG_VAR}=".encode()
    for var in env.split(b"\0"):
        if var.startswith(needle):
            return var[len(needle):].decode(errors="replace")
    return None


def tagged_pids(tag_prefix):
    """Processes whose environment carries a tag starting with tag_prefix (QEMU
    leads its own session, so a process group alone does not reach it)."""
    found = []
    for pid in _proc_entries():
        tag = pid_tag(pid)
        if tag is not None and (tag == tag_prefix or tag.startswith(tag_prefix + ":")):
            found.append(pid)
    return found


def child_pids(parent):
    out = []
    for pid in _proc_entries():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            out.append(pid)
    return out


def kill_tagged(tag_prefix):
    """SIGKILL every process carrying the tag until none is left; how many were killed."""
    killed = set()
    for _ in range(20):
        pids = [p for p in tagged_pids(tag_prefix) if p != os.getpid()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    return len(killed)


class Procs:
    """Every process the batch starts. The batch is a child subreaper, so a
    process that loses its parent (a QEMU whose grade run was killed) becomes
    our child: reap_orphans() ends every child we did not start ourselves."""

    def __init__(self, subreaper=True):
        self.lock = threading.Lock()
        self.active = set()
        if subreaper:
            self._become_subreaper()

    @staticmethod
    def _become_subreaper():
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def start(self, cmd, **kw):
        with self.lock:
            p = subprocess.Popen(cmd, start_new_session=True, **kw)
            self.active.add(p.pid)
        return p

    def finish(self, p):
        with self.lock:
            self.active.discard(p.pid)

    def run(self, cmd, env, timeout, capture=False, cwd=None):
        """subprocess.run in a new session, killed as a group on timeout."""
        p = self.start(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p.pid)
            out, err = p.communicate()
            out, err = out or b"", (err or b"") + b"\n(timed out)"
            p.returncode = p.returncode or -9
        finally:
            self.finish(p)
        return subprocess.CompletedProcess(cmd, p.returncode, out, err)

    def reap_orphans(self, running_tags=()):
        """Kill and reap our children that we did not start (orphans reparented
        to us), except those of a grade run still in progress."""
        with self.lock:
            for pid in child_pids(os.getpid()):
                if pid in self.active or pid_tag(pid) in running_tags:
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ---- grading one submission --------------------------------------------------------------
class Outcome:
    """The gradebook row of one student."""

    def __init__(self, student, source):
        self.student = student
        self.source = source
        self.status = "ok"
        self.reason = ""
        self.labs = {}        # lab -> {"points", "max", "build", "tests": [...]}
        self.seconds = 0.0
        self.log = []
        self.gradescope = []  # per-lab Gradescope results (gradescope/run.py)
        self.intake = None

    def total(self):
        return (sum(l["points"] for l in self.labs.values()),
                sum(l["max"] or 0 for l in self.labs.values()))

    def to_json(self, log_path=None):
        points, full = self.total()
        return {"student": self.student, "source": self.source, "status": self.status,
                "reason": self.reason, "points": points, "max": full,
                "seconds": round(self.seconds, 1), "labs": self.labs,
                "log": str(log_path) if log_path else None}


class Batch:
    """Grades submissions against one kit; thread-safe; each submission in its own copy."""

    def __init__(self, kit, labs, timeout, work, keep=False, tag=None):
        self.kit = kit
        self.labs = labs
        self.timeout = timeout
        self.work = Path(work)
        self.keep = keep
        self.procs = Procs()
        self.tag = tag or f"{os.getpid()}-{int(time.time() * 1000)}"
        self.count = 0
        self.lock = threading.Lock()
        self.running = set()   # tags of submissions being graded
        self.template = None   # see prebuild()
        self.as_dir = self.work / "as"
        self.as_dir.mkdir(parents=True, exist_ok=True)
        real = subprocess.run(["gcc", "-print-prog-name=as"], capture_output=True, text=True).stdout.strip()
        real = real if os.path.isabs(real) else shutil.which(real or "as") or "/usr/bin/as"
        (self.as_dir / "as").write_text(AS_WRAPPER.format(real=real, report=AS_REPORT_VAR))
        os.chmod(self.as_dir / "as", 0o755)
        self.stopped = False

    def prebuild(self):
        """Build every graded lab's objects once from a pristine copy (the core,
        the kit side, the starter): each submission's copy starts from this
        template, timestamps kept, so make compiles only the student's files."""
        t = self.work / "template"
        make_copy(self.kit, t)
        env = clean_env({TAG_VAR: f"{self.tag}:template"})
        for lab in self.labs:
            arrange_solutions(self.kit, t, lab)
            r = self.procs.run(["make", "-s", "--no-print-directory", "-C", str(t / "labs" / lab),
                                "print-OBJS"], env, 60, capture=True)
            objs = r.stdout.decode().split()
            if r.returncode == 0 and objs:
                self.procs.run(["make", "-s", "-k", "-C", str(t / "labs" / lab)] + objs, env, 300)
        self.template = t

    def make_copy(self, copy, intake):
        """The submission's kit: the template (or a fresh copy) plus its files."""
        if self.template is None:
            make_copy(self.kit, copy)
        else:
            shutil.copytree(self.template, copy, symlinks=True,
                            ignore=shutil.ignore_patterns("*.elf", "*.iso", "iso"))
            labs = {dest.split("/")[1] for dest in intake.files}
            for lab in labs:  # never trust an object for a file the student replaced
                for d in (copy / "build").glob(f"*/*/obj/student-{lab}"):
                    shutil.rmtree(d)
        for dest, data in intake.files.items():
            (copy / dest).parent.mkdir(parents=True, exist_ok=True)
            (copy / dest).write_bytes(data)

    def stop(self):
        """Interrupted: grade nothing more, end every process a grade run started."""
        self.stopped = True
        kill_tagged(self.tag)

    def grade(self, submission, gradescope=False):
        """Outcome for one submission (never raises for the submission's faults)."""
        with self.lock:
            self.count += 1
            n = self.count
            tag = f"{self.tag}:{n}"
            self.running.add(tag)
        out = Outcome(student_id(submission), str(submission))
        t0 = time.monotonic()
        work = self.work / f"{n:03d}"
        try:
            if self.stopped:
                raise Refused("the batch was interrupted before this submission")
            work.mkdir(parents=True)
            self._grade(submission, out, work, tag, t0, gradescope)
        except Refused as e:
            out.status, out.reason = "refused", str(e)
            out.labs.clear()
            out.log.append(f"REFUSED: {e}")
        except Exception as e:  # the grader's own fault: this submission only
            import traceback
            out.status, out.reason = "error", f"grader error: {type(e).__name__}: {e}"
            out.log.append(traceback.format_exc())
        finally:
            kill_tagged(tag)
            with self.lock:
                self.running.discard(tag)
                running = set(self.running)
            self.procs.reap_orphans(running)
            out.seconds = time.monotonic() - t0
            if not self.keep:
                shutil.rmtree(work, ignore_errors=True)
        return out

    def _grade(self, submission, out, work, tag, t0, gradescope):
        out.log.append(f"submission: {submission}")
        intake = read_submission(submission, self.kit, work, self.procs, {TAG_VAR: tag})
        out.intake = intake
        out.log += intake.summary()
        has_files = {l for l in self.labs if any(f.startswith(f"starter/{l}/") for f in intake.files)}
        if not has_files:
            want = ", ".join(f"starter/{l}/{(self.kit.labs[l]['student'] or ['...'])[0]}" for l in self.labs)
            raise Refused(f"no student files for the graded lab(s): expected e.g. {want}")
        copy = work / "kit"
        self.make_copy(copy, intake)
        tmp = work / "tmp"
        tmp.mkdir()
        env = clean_env({"TMPDIR": str(tmp), TAG_VAR: tag})
        deadline = t0 + self.timeout
        for lab in self.labs:
            if lab not in has_files and not gradescope:
                # the starter's stubs fail every test (make check proves it): no need to boot them
                out.log.append(f"--- {lab}: no files in the submission: 0 points")
                out.labs[lab] = {"points": 0, "max": None, "build": None, "tests": []}
                continue
            missing = [f for f in self.kit.labs[lab]["student"] if f"starter/{lab}/{f}" not in intake.files]
            if missing:
                out.log.append(f"{lab}: not in the submission, the starter's stub is used: {' '.join(missing)}")
            if not self._grade_lab(lab, copy, work, env, deadline, out, gradescope):
                break

    def _run(self, cmd, env, deadline, log_file, cwd):
        """Run cmd into log_file within the deadline; its return code or None on timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        with open(log_file, "wb") as f:
            p = self.procs.start(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT)
            try:
                return p.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                kill_group(p.pid)
                kill_tagged(env[TAG_VAR])
                p.wait()
                return None
            finally:
                self.procs.finish(p)
                kill_tagged(env[TAG_VAR])  # nothing a grade run started outlives it,
                with self.lock:            # even one that cleared its environment
                    running = self.running - {env[TAG_VAR]}
                self.procs.reap_orphans(running)

    def _grade_lab(self, lab, copy, work, env, deadline, out, gradescope):
        """Build, check and grade one lab in the copy; False when grading must stop."""
        arrange_solutions(self.kit, copy, lab)
        t = time.monotonic()
        build_log = work / f"{lab}.build.log"
        before = dep_files(copy)
        report = work / "as-refused.txt"
        rc = self._run(["make", "-s", "-C", str(copy / "labs" / lab), f"CC=gcc -B{self.as_dir}/"],
                       dict(env, **{AS_REPORT_VAR: str(report)}), deadline, build_log, copy)
        out.log.append(f"--- {lab}: build ({time.monotonic() - t:.1f}s)")
        out.log.append(tail_text(build_log))
        if rc is None:
            return self._timed_out(out, lab)
        if report.exists():
            raise Refused(f"{lab}: the student files use the assembler directive "
                          f"'{report.read_text().split()[0]}', which reads other files while building")
        if rc == 0:
            outside = outside_dependencies(copy, before)
            if outside:
                raise Refused(f"{lab}: the student files pull in files from outside the kit "
                              f"copy: {', '.join(outside[:3])}")
        result = work / f"{lab}.json"
        cmd = [PY, str(copy / "grader" / "grade.py"), "--lab", lab, "--json", str(result), "--jobs", "1"]
        if gradescope:
            cmd += ["--gradescope", str(work / f"{lab}.gradescope.json")]
        t = time.monotonic()
        grade_log = work / f"{lab}.grade.log"
        rc = self._run(cmd, env, deadline, grade_log, copy)
        out.log.append(f"--- {lab}: grade.py ({time.monotonic() - t:.1f}s)")
        out.log.append(tail_text(grade_log))
        if rc is None:
            return self._timed_out(out, lab)
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError):
            out.labs[lab] = {"points": 0, "max": 0, "build": rc == 0, "tests": []}
            if out.status == "ok":
                out.status, out.reason = "error", f"{lab}: grade.py stopped without results (exit {rc})"
            return True
        rows = [r for r in data.get("results", []) if r.get("lab") == lab]
        built = bool(data.get("build", {}).get(lab, [True])[0])
        out.labs[lab] = {
            "points": sum(r["points"] for r in rows if r["passed"]),
            "max": sum(r["points"] for r in rows), "build": built,
            "tests": [{"name": r["name"], "points": r["points"] if r["passed"] else 0,
                       "max": r["points"], "passed": r["passed"]} for r in rows]}
        if gradescope:
            try:
                out.gradescope.append(json.loads((work / f"{lab}.gradescope.json").read_text()))
            except (OSError, ValueError):
                pass
        if not built and out.status == "ok":
            out.status, out.reason = "build-error", f"{lab} does not build (the compiler's output is in the log)"
        return True

    def _timed_out(self, out, lab):
        out.status = "timeout"
        out.reason = f"grading took more than {self.timeout:g} s (stopped in {lab})"
        out.log.append(f"TIMEOUT: {out.reason}")
        return False


def tail_text(path, limit=256 << 10):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return ("[...]\n" if size > limit else "") + text.rstrip()


def dep_files(copy):
    """{path: mtime_ns} of the dependency files under copy/build."""
    out = {}
    for d in (copy / "build").glob("**/*.d"):
        try:
            out[d] = d.stat().st_mtime_ns
        except OSError:
            pass
    return out


def outside_dependencies(copy, before):
    """Files outside the kit copy that the objects compiled in it were made from
    (gcc's -MMD lists every header it read, however its name was computed).
    Dependency files already there, unchanged, in `before` came with the template."""
    root = os.path.realpath(copy)
    allowed = [root + os.sep]
    r = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True, text=True)
    if r.stdout.strip():
        allowed.append(os.path.realpath(os.path.dirname(r.stdout.strip())) + os.sep)
    bad = []
    for d, mtime in dep_files(copy).items():
        if before.get(d) == mtime:
            continue
        text = d.read_text(errors="replace").replace("\\\n", " ")
        cwd = copy / "labs" / d.relative_to(copy / "build").parts[0]  # make -C labs/<lab>
        for line in text.splitlines():
            if ":" not in line:
                continue
            for dep in line.split(":", 1)[1].split():
                p = os.path.realpath(os.path.join(cwd, dep))
                if not any(p.startswith(a) for a in allowed) and p not in bad:
                    bad.append(p)
    return bad


# ---- the gradebook ----------------------------------------------------------------------
def safe_name(student):
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", student).lstrip(".") or "_"


def write_gradebook(outcomes, labs, out_dir, elapsed):
    """gradebook.csv, gradebook.json and logs/<student>.log in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    for old in logs.glob("*.log"):  # a previous run's
        old.unlink()
    maxima = {l: 0 for l in labs}
    for o in outcomes:
        for lab, l in o.labs.items():
            maxima[lab] = max(maxima.get(lab, 0), l["max"] or 0)
    for o in outcomes:
        for lab, l in o.labs.items():
            if l["max"] is None:
                l["max"] = maxima[lab]
    full = sum(maxima.values())
    rows = []
    for o in outcomes:
        log_path = logs / f"{safe_name(o.student)}.log"
        log_path.write_text("\n".join(o.log + [
            f"status: {o.status}" + (f" ({o.reason})" if o.reason else ""),
            f"points: {o.total()[0]}/{full}", f"seconds: {o.seconds:.1f}"]) + "\n")
        row = o.to_json(log_path.relative_to(out_dir))
        row["max"] = full
        rows.append(row)
    with open(out_dir / "gradebook.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "status"] + labs + ["total", "max", "seconds", "reason"])
        for o in outcomes:
            w.writerow([o.student, o.status] + [o.labs[l]["points"] if l in o.labs else 0 for l in labs]
                       + [o.total()[0], full, f"{o.seconds:.1f}", o.reason])
    (out_dir / "gradebook.json").write_text(json.dumps(
        {"labs": labs, "max": maxima, "seconds": round(elapsed, 1), "students": rows}, indent=1) + "\n")


def list_submissions(folder):
    """The submissions in a folder: every entry but hidden ones, sorted by name."""
    return sorted((p for p in Path(folder).iterdir() if not p.name.startswith(".")), key=lambda p: p.name)


def unique_ids(outcomes):
    seen = {}
    for o in outcomes:
        seen[o.student] = seen.get(o.student, 0) + 1
    for o in outcomes:
        if seen[o.student] > 1:
            o.student = Path(o.source).name


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("submissions", help="folder of submissions")
    ap.add_argument("--lab", action="append", default=[], help="lab to grade (repeatable; default all)")
    ap.add_argument("--out", help="output folder (default build/grade-class)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="submissions graded at once (default 2)")
    ap.add_argument("--timeout", type=float, default=0,
                    help="wall-time bound per submission in seconds (default 120 per lab)")
    ap.add_argument("--kit", default=str(KIT_ROOT), help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep each submission's kit copy")
    args = ap.parse_args(argv)

    folder = Path(args.submissions)
    if not folder.is_dir():
        print(f"batch: {folder} is not a folder of submissions", file=sys.stderr)
        return 2
    kit = Kit(args.kit)
    labs = [kit.resolve_lab(l) for l in args.lab] or list(kit.labs)
    timeout = args.timeout or 120 * len(labs)
    out_dir = Path(args.out or kit.root / "build" / "grade-class")
    subs = list_submissions(folder)
    work = Path(tempfile.mkdtemp(prefix="kit-batch-"))
    batch = Batch(kit, labs, timeout, work, keep=args.keep)
    print(f"batch: {len(subs)} submissions, lab(s) {' '.join(labs)}, {args.jobs} at once, "
          f"{timeout:g} s each at most")
    t0 = time.monotonic()
    if len(subs) > 1:
        batch.prebuild()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    outcomes = []
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        for o in pool.map(batch.grade, subs):
            points, full = o.total()
            print(f"  {o.student:<24} {o.status:<12} {points:>4}/{full:<4} ({o.seconds:.1f}s)"
                  + (f"  {o.reason[:100]}" if o.reason else ""), flush=True)
            outcomes.append(o)
    except BaseException:
        batch.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        kill_tagged(batch.tag)
        batch.procs.reap_orphans()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"batch: copies kept in {work}")
    unique_ids(outcomes)
    elapsed = time.monotonic() - t0
    write_gradebook(outcomes, labs, out_dir, elapsed)
    counts = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    print(f"batch: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))} in {elapsed:.1f}s; "
          f"gradebook in {out_dir}/gradebook.csv (and .json, logs/)")
    return 1 if any(o.status == "error" for o in outcomes) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("batch: interrupted; every grade run it started was stopped", file=sys.stderr)
        sys.exit(130)
