"""Reading a submission: what it gives the grader, read without trusting it.

A submission is a directory, a tarball (.tar .tar.gz .tgz .tar.xz .tar.bz2), a
.zip or a git bundle (.bundle); its name without the extension is the student
id. Only the student files are taken from it: regular .c/.h/.S files under
starter/<lab>/ (a bare upload of files named like a lab's student files also
works). Links, device files, FIFOs, paths that leave the submission, oversized
files and archive bombs refuse the whole submission, with the reason.

Everything is bounded before it is read: the submission itself is lstat'ed
(a FIFO or a device is never opened), archives are opened without following
links and read in one streaming pass, and a git bundle's tree is listed by a
git process whose output is read as it comes and stopped at the entry limit.
Names from a submission reach messages only through shown() (harness/text.py).
"""
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import threading
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from course.procs import clean_env, kill_group
from harness.text import shown

MAX_FILE = 256 << 10           # one student file
MAX_TAKEN = 2 << 20            # all the student files of one submission
MAX_ENTRIES = 20000            # entries in an archive or a submission folder
MAX_UNPACKED = 64 << 20        # bytes an archive may unpack to (whole repositories fit)
MAX_ARCHIVE = 32 << 20         # size of a tarball, zip or bundle on disk
MAX_DEPTH = 4                  # folders below starter/<lab>/
MAX_NAME = 4096                # bytes of one path inside an archive
STUDENT_EXTS = (".c", ".h", ".S")
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
# Directives that read another file while assembling (the -MMD dependency check
# cannot see them): refused in student files.
ASM_FILE_DIRECTIVE = re.compile(rb"incbin|\.\s*include\b", re.IGNORECASE)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
FORMATS = TAR_SUFFIXES + (".zip", ".bundle")
GIT_TIMEOUT = 60               # seconds for one git command
GIT_MEMORY = 1 << 30           # address space of one git process


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
        raise Refused(f"'{shown(path)}' has a NUL byte in its name")
    if len(path.encode(errors="surrogateescape")) > MAX_NAME:
        raise Refused(f"a path of more than {MAX_NAME} bytes ('{shown(path[:80])}...')")
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        raise Refused(f"'{shown(path)}' is an absolute path: the archive would write outside its folder")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused(f"'{shown(path)}' contains '..': the archive would write outside its folder")
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


# ---- the submission itself -----------------------------------------------------------
def submission_kind(path):
    """'dir', 'tar', 'zip', 'bundle', 'symlink', 'special' (a FIFO, socket or
    device) or None (an unknown format), from lstat: nothing is opened."""
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    if not stat.S_ISREG(mode):
        return "special"
    name = Path(path).name.lower()
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".bundle"):
        return "bundle"
    return None


def open_archive(path):
    """A submission archive, opened for reading without following a link and
    without waiting on a FIFO (O_NONBLOCK), checked to be a regular file of at
    most MAX_ARCHIVE bytes (fstat: what was opened, not what the name is now)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise Refused(f"the archive cannot be opened ({e.strerror})")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise Refused("the submission is not a regular file (a FIFO, socket or device)")
    if st.st_size > MAX_ARCHIVE:
        os.close(fd)
        raise Refused(f"the archive is {st.st_size >> 20} MiB; the limit is {MAX_ARCHIVE >> 20} MiB")
    return os.fdopen(fd, "rb")


def student_id(path):
    name = Path(path).name
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


# files a class folder holds beside the submissions (notes, a roster, an LMS
# export): not graded, not a student row, named in the run's log
NOT_SUBMISSIONS = (".txt", ".md", ".csv", ".json", ".yml", ".yaml", ".pdf", ".log", ".html", ".toml",
                   ".doc", ".docx", ".odt", ".rtf", ".xlsx", ".ods")


def list_submissions(folder, ignored=None):
    """The submissions in a folder, sorted by name: every entry but hidden ones
    and regular files of a document kind (NOT_SUBMISSIONS), which go to the
    list `ignored` when one is given. Another unknown file stays a submission
    (its row says the format is unknown: a student's .rar must not vanish)."""
    out = []
    for p in Path(folder).iterdir():
        if p.name.startswith("."):
            continue
        if p.name.lower().endswith(NOT_SUBMISSIONS) and submission_kind(p) is None:
            if ignored is not None:
                ignored.append(p)
            continue
        out.append(p)
    return sorted(out, key=lambda p: p.name)


def aware(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc)


def folder_time(root, entries):
    """A folder's submission time: Gradescope's submission_metadata.json in it
    (created_at), else the newest modification time of the files taken from it."""
    meta = Path(root) / "submission_metadata.json"
    if meta.is_file() and not meta.is_symlink() and meta.stat().st_size < (1 << 20):
        try:
            created = json.loads(meta.read_text()).get("created_at")
            t = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
            if t.tzinfo:
                return t, "submission_metadata.json"
        except (ValueError, AttributeError, OSError):
            pass
    times = [os.lstat(os.path.join(root, e.path)).st_mtime for e in entries if e.kind == "file"]
    return (aware(max(times)), "newest file's mtime") if times else (None, "")


# ---- folders -------------------------------------------------------------------------------
def scan_dir(root, kit):
    """Entries of a submission folder (the .git folder is not looked at), listed
    one directory entry at a time, so a folder of millions stops at the limit."""
    budget = Budget()
    out = []
    todo = [""]
    while todo:
        rel = todo.pop()
        names = []
        with os.scandir(os.path.join(root, rel)) as it:
            for d in it:
                if d.name != ".git":
                    budget.entry()
                    names.append(d.name)
        subdirs = []
        for name in sorted(names):
            full = os.path.join(root, rel, name)
            path = os.path.join(rel, name) if rel else name
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out.append(Entry(path, "symlink", target=os.readlink(full)))
            elif stat.S_ISDIR(st.st_mode):
                out.append(Entry(path, "dir"))
                subdirs.append(path)
            elif stat.S_ISREG(st.st_mode):
                kind = "hardlink" if st.st_nlink > 1 else "file"
                out.append(Entry(path, kind, st.st_size,
                                 reader=lambda limit, full=full: read_regular(full, limit)))
            else:
                out.append(Entry(path, "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                                 else "other"))
        todo += reversed(subdirs)
    return out


def read_regular(path, limit):
    """At most limit+1 bytes of a regular file, never through a link or a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused(f"'{shown(path)}' is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)
    finally:
        os.close(fd)


# ---- tarballs and zips ---------------------------------------------------------------
def open_decompressed(raw):
    """The uncompressed byte stream of a (maybe gzip/xz/bzip2) tarball, bounded."""
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
    return LimitedReader(f, MAX_UNPACKED + (1 << 20))


def scan_tar(path, kit):
    """Entries of a tarball, read in one streaming pass: nothing is extracted to disk."""
    budget = Budget()
    out = []
    with open_archive(path) as raw:
        try:
            with tarfile.open(fileobj=open_decompressed(raw), mode="r|") as tf:
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
            raise Refused(f"not a readable tar archive ({type(e).__name__}: {shown(str(e))})")
    return out


def scan_zip(path, kit):
    """Entries of a zip archive (sizes from its directory, reads bounded)."""
    budget = Budget()
    out = []
    with open_archive(path) as raw:
        try:
            with zipfile.ZipFile(raw) as zf:
                for info in zf.infolist():
                    name = check_path(info.filename)
                    mode = info.external_attr >> 16
                    budget.entry(info.file_size)
                    if stat.S_ISLNK(mode):
                        with zf.open(info) as f:
                            target = f.read(256).decode(errors="replace")
                        out.append(Entry(name, "symlink", target=target))
                    elif info.is_dir() or stat.S_ISDIR(mode):
                        out.append(Entry(name, "dir"))
                    elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # no type bits: a file
                        out.append(Entry(name, "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                                         else "other"))
                    else:
                        data = None
                        if info.file_size <= MAX_FILE and wanted(name, kit):
                            with zf.open(info) as f:
                                data = f.read(MAX_FILE + 1)
                        out.append(Entry(name, "file", info.file_size, data=data))
        except Refused:
            raise
        except Exception as e:  # zipfile, zlib, lzma and bz2 each have their own errors
            raise Refused(f"not a readable zip archive ({type(e).__name__}: {shown(str(e))})")
    return out


# ---- git bundles ---------------------------------------------------------------------------
def git_env(home, extra=None):
    env = clean_env(extra)
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0",
               GIT_CONFIG_GLOBAL=os.devnull)
    return env


class Bundle:
    """A git bundle read through a private bare repository: nothing is checked
    out, every git command is bounded in time and memory."""

    def __init__(self, path, tmp, procs, env_extra=None):
        self.tmp = Path(tmp)
        self.repo = str(self.tmp / "bundle.git")
        self.procs = procs
        self.env = git_env(self.tmp, env_extra)
        # git reads a copy made through the checked descriptor, at an absolute path
        self.file = self.tmp / "submission.bundle"
        with open_archive(path) as src, open(self.file, "wb") as dst:
            shutil.copyfileobj(src, dst)

    def git(self, *args):
        r = self.procs.run(["git", *args], env=self.env, timeout=GIT_TIMEOUT, capture=True,
                           memory=GIT_MEMORY)
        if r.returncode != 0:
            raise Refused(f"not a usable git bundle (git {args[0]}: "
                          f"{shown(r.stderr.decode(errors='replace').strip()[-300:])}); make it with: "
                          "git bundle create <name>.bundle HEAD main")
        return r.stdout

    def fetch(self):
        """Fetch the graded commit (HEAD, else the only branch, else main or
        master) to refs/kit/graded, objects checked as they arrive."""
        self.git("init", "-q", "--bare", self.repo)
        heads = {}
        listing = self.git("-C", self.repo, "bundle", "list-heads", str(self.file))
        for line in listing.decode(errors="replace").splitlines():
            sha, _, ref = line.partition(" ")
            heads[ref.strip()] = sha
        branches = [r for r in heads if r.startswith("refs/heads/")]
        ref = ("HEAD" if "HEAD" in heads else branches[0] if len(branches) == 1 else
               next((r for r in ("refs/heads/main", "refs/heads/master") if r in heads), None))
        if ref is None:
            raise Refused("the git bundle has no HEAD and no single branch to grade "
                          "(make it with: git bundle create <name>.bundle HEAD main)")
        self.git("-C", self.repo, "-c", "transfer.fsckObjects=true", "fetch", "-q", "--no-tags",
                 str(self.file), f"+{ref}:refs/kit/graded")

    def tree(self, record):
        """Call record(mode, type, sha, size, path) for each entry of the graded
        tree, read from `git ls-tree` as it prints them: memory stays bounded
        however many paths the tree names, and git is stopped as soon as
        record() refuses (the entry limit) or GIT_TIMEOUT passes."""
        p = self.procs.start(["git", "-C", self.repo, "ls-tree", "-r", "-z", "--long", "--full-tree",
                              "refs/kit/graded"], memory=GIT_MEMORY, env=self.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        timer = threading.Timer(GIT_TIMEOUT, kill_group, [p.pid])
        timer.start()
        try:
            pending = b""
            while chunk := p.stdout.read1(1 << 16):
                *records, pending = (pending + chunk).split(b"\0")
                if len(pending) > MAX_NAME + 128:
                    raise Refused(f"a path of more than {MAX_NAME} bytes")
                for rec in records:
                    meta, _, name = rec.partition(b"\t")
                    mode, otype, sha, size = meta.split()
                    record(mode, otype, sha.decode(), int(size) if size.isdigit() else 0,
                           name.decode("utf-8", "surrogateescape"))
        finally:
            timer.cancel()
            kill_group(p.pid)
            p.stdout.close()
            p.wait()
            self.procs.finish(p)
        if p.returncode != 0:
            raise Refused("not a usable git bundle (git ls-tree failed or took more than "
                          f"{GIT_TIMEOUT} s)")

    def blob(self, sha, limit):
        return self.git("-C", self.repo, "cat-file", "blob", sha)[:limit + 1]


def scan_bundle(path, tmp, procs, env_extra=None, times=None):
    """Entries of the tree a git bundle's HEAD (or its only branch) points to;
    the graded commit's committer time goes to the list `times` when given."""
    bundle = Bundle(path, tmp, procs, env_extra)
    bundle.fetch()
    if times is not None:
        stamp = bundle.git("-C", bundle.repo, "log", "-1", "--format=%ct", "refs/kit/graded").decode(errors="replace").strip()
        if stamp.isdigit():
            times.append(aware(int(stamp)))
    budget = Budget()
    out = []

    def record(mode, otype, sha, size, name):
        name = check_path(name)
        budget.entry(size)
        if mode == b"120000":
            target = bundle.blob(sha, 255).decode(errors="replace") if size <= 4096 else "..."
            out.append(Entry(name, "symlink", target=target))
        elif otype == b"commit":
            out.append(Entry(name, "other"))  # a submodule
        else:
            out.append(Entry(name, "file", size, reader=lambda limit, sha=sha: bundle.blob(sha, limit)))
    bundle.tree(record)
    return out


# ---- the rules -------------------------------------------------------------------------------
class Intake:
    """What a submission gives the grader: files (path under the kit -> bytes),
    and notes for the log."""

    def __init__(self, name):
        self.name = name
        self.files = {}
        self.notes = []
        self.ignored = []   # (path, why)
        self.submitted = None     # an aware datetime, or None
        self.submitted_from = ""  # where that time came from

    def summary(self):
        lines = [f"taken: {p} ({len(d)} bytes)" for p, d in sorted(self.files.items())]
        lines += self.notes
        for p, why in self.ignored[:40]:
            lines.append(f"ignored: {shown(p)}: {why}")
        if len(self.ignored) > 40:
            lines.append(f"ignored: ... and {len(self.ignored) - 40} more")
        return lines


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
    try:
        kind = submission_kind(path)
    except OSError as e:
        raise Refused(f"the submission cannot be read ({e.strerror})")
    if kind == "symlink":
        raise Refused("the submission itself is a symbolic link")
    if kind == "special":
        raise Refused("the submission is not a regular file or a folder (a FIFO, socket or "
                      "device): nothing was read from it")
    if kind is None:
        raise Refused(f"unknown format: a submission is a folder, {', '.join(FORMATS)}")
    if kind == "dir":
        entries = scan_dir(path, kit)
    elif kind == "tar":
        entries = scan_tar(path, kit)
    elif kind == "zip":
        entries = scan_zip(path, kit)
    else:
        times = []
        entries = scan_bundle(path, tmp, procs, env_extra, times)
        if times:
            intake.submitted, intake.submitted_from = times[0], "the bundle's last commit"
    if kind == "dir":
        intake.submitted, intake.submitted_from = folder_time(path, entries)
    elif intake.submitted is None:
        intake.submitted, intake.submitted_from = aware(os.lstat(path).st_mtime), "the archive's mtime"
    take(entries, kit, intake)
    if intake.submitted:
        intake.notes.append(f"submitted: {intake.submitted.isoformat(timespec='seconds')} "
                            f"({intake.submitted_from})")
    return intake


def take(entries, kit, intake):
    """Apply the intake rules to a submission's entries (see the module docstring)."""
    for e in entries:
        if e.kind == "symlink":
            raise Refused(f"'{shown(e.path)}' is a symbolic link (to '{shown(e.target)}'); "
                          "links are not accepted")
        if e.kind == "hardlink":
            raise Refused(f"'{shown(e.path)}' is a hard link"
                          f"{f' (to {shown(e.target)!r})' if e.target else ''}; links are not accepted")
        if e.kind == "device":
            raise Refused(f"'{shown(e.path)}' is a device file")
        if e.kind == "other" and (e.path.startswith("starter/") or "/starter/" in e.path):
            raise Refused(f"'{shown(e.path)}' is not a regular file (a FIFO, socket or submodule)")
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
            raise Refused(f"'{shown(e.path)}' is {e.size >> 10} KiB; the limit is {MAX_FILE >> 10} KiB per file")
        data = e.read(MAX_FILE)
        if data is None or len(data) > MAX_FILE:
            raise Refused(f"'{shown(e.path)}' is larger than {MAX_FILE >> 10} KiB")
        if dest in intake.files:
            raise Refused(f"two entries give {dest} (one is '{shown(e.path)}')")
        if ASM_FILE_DIRECTIVE.search(data):
            raise Refused(f"'{shown(e.path)}' uses an assembler .incbin/.include: student files may not "
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
        return None, f"starter/{shown(lab)} is not a lab of this kit"
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
