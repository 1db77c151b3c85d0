"""Grading a class (grader/course/batch.py) and the Gradescope autograder (grader/course/gradescope/).

One batch run grades a sample class built from the kit's own Lab 1 files: a
full-marks, a partial, a broken and several malicious submissions, in every
format (folder, tar.gz, tar, zip, git bundle); the tests check its gradebook.
"""
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

GRADER = Path(__file__).resolve().parents[1]
KIT = GRADER.parent
sys.path.insert(0, str(GRADER))
from course import batch, procs  # noqa: E402
from course.intake import Refused, read_submission  # noqa: E402
from course.gradebook import csv_cell  # noqa: E402
from course.kit import Kit, parse_lab_mk  # noqa: E402
from harness.text import shown  # noqa: E402

PY = "/usr/bin/python3"
LAB = "01-segmentation"
FILE = "gdt.c"
STUDENT = f"starter/{LAB}/{FILE}"
RUN_TIMEOUT = 300


# ---- building submissions ---------------------------------------------------------------
def solution():
    return (KIT / "solutions" / LAB / FILE).read_text()


def functions(text):
    """{name: (start, end)} of the top-level function definitions in C text."""
    out = {}
    for m in re.finditer(r"^[A-Za-z_][^;{}()\n]*?\b([A-Za-z_]\w*)\([^;{}]*\)\s*\{", text, re.M):
        depth, i = 0, m.end() - 1
        while i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        out[m.group(1)] = (m.start(), i)
    return out


def partial_solution():
    """The solution with one function put back to the starter's stub."""
    sol, stub = solution(), (KIT / "starter" / LAB / FILE).read_text()
    stubbed = [n for n, (a, b) in functions(stub).items() if "LAB_STUB" in stub[a:b]]
    name = "callgate_install" if "callgate_install" in stubbed else stubbed[-1]
    a, b = functions(sol)[name]
    sa, sb = functions(stub)[name]
    return sol[:a] + stub[sa:sb] + sol[b:]


def sleeping_solution():
    """The solution whose gdt_init sleeps forever (hlt with interrupts off): every
    boot waits for its boot timeout, far past the batch's 2 s bound, without
    keeping a host core busy (the bare solution is graded in less than 2 s now)."""
    sol = solution()
    a, _ = functions(sol)["gdt_init"]
    body = sol.index("{", a) + 1
    return sol[:body] + '\n    for (;;)\n        __asm__ volatile("cli; hlt");\n' + sol[body:]


def write(root, files):
    for rel, data in files.items():
        p = Path(root) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)


def tar(path, members, mode="w:gz"):
    """members: (name, kind, data) with kind file, symlink, hardlink, chr or huge."""
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tf:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data.encode()))
            elif kind in ("symlink", "hardlink"):
                ti.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                ti.linkname = data
                tf.addfile(ti)
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
                tf.addfile(ti)
            elif kind == "huge":  # a header that promises 1 GiB (the data is never read)
                ti.size = 1 << 30
                tf.fileobj.write(ti.tobuf(tarfile.GNU_FORMAT, tf.encoding, tf.errors))
                tf.fileobj.write(b"\0" * 4096)
                tf.offset += 512 + 4096
                break


def bundle(path, files, tmp):
    """A git bundle of a one-commit repository holding files."""
    repo = Path(tmp) / (Path(path).stem + "-repo")
    write(repo, files)
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp))
    git = ["git", "-C", str(repo), "-c", "user.name=s", "-c", "user.email=s@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    subprocess.run(git + ["add", "-A"], check=True, env=env)
    subprocess.run(git + ["commit", "-q", "-m", "lab"], check=True, env=env)
    subprocess.run(git + ["bundle", "create", "-q", str(path), "HEAD", "main"], check=True, env=env,
                   stderr=subprocess.DEVNULL)


def make_class(root):
    """A sample class: {student id: what it tests}; the folder is root/class."""
    c = Path(root) / "class"
    c.mkdir()
    sol = solution()
    # graded
    write(c / "full", {STUDENT: sol, "README.md": "my lab\n"})
    tar(c / "partial.tar.gz", [(f"partial-work/{STUDENT}", "file", partial_solution())])
    bundle(c / "broken.bundle", {
        STUDENT: sol + "\nint broken = ;\n",
        # changes outside starter/ are ignored: the kit's grader and Makefile are used
        "grader/grade.py": "print('Total: 47/47')\n",
        "Makefile": "grade:\n\t@echo 100/100\n"}, root)
    # refused
    (c / "symlink" / "starter" / LAB).mkdir(parents=True)
    os.symlink("/etc/passwd", c / "symlink" / STUDENT)
    tar(c / "dotdot.tar.gz", [(STUDENT, "file", sol), ("../../Makefile", "file", "all:\n")])
    tar(c / "absolute.tar", [(STUDENT, "file", sol), ("/tmp/kit-evil.c", "file", "x")], mode="w")
    tar(c / "hardlink.tgz", [(STUDENT, "hardlink", "/etc/passwd")])
    tar(c / "device.tar.gz", [(STUDENT, "file", sol), (f"starter/{LAB}/tty.c", "chr", None)])
    tar(c / "bomb.tar.gz", [(STUDENT, "file", sol), ("pad", "huge", None)])
    bundle(c / "oversized.bundle", {STUDENT: sol + "/*" + "x" * (300 << 10) + "*/\n"}, root)
    write(c / "include", {STUDENT: f'#include "{KIT / "solutions" / LAB / FILE}"\n'})
    with zipfile.ZipFile(c / "incbin.zip", "w") as zf:
        zf.writestr(STUDENT, sol + '\n__asm__(".section .rodata\\n.incb" "in \\"/etc/passwd\\"");\n')
    with zipfile.ZipFile(c / "empty.zip", "w") as zf:
        zf.writestr("notes.txt", "nothing here\n")
    os.mkfifo(c / "fifo.tar")  # opening it for reading would wait for a writer forever
    # names that would forge lines of the student's log or the console
    tar(c / "forger.tar", [(name, "file", "x") for name in FORGED_NAMES])
    for student in FORMULA_IDS:  # refused (no files), but they reach the CSV
        (c / student).mkdir()
    return c


FORGED_NAMES = ("notes\nstatus: ok\npoints: 999/999\n.txt", "x\x1b[2K\rstatus: ok.txt", "bell\x07\u202e.txt")
FORMULA_IDS = ('=HYPERLINK("http:--x.invalid","y")', "+1+1", "-2+3", "@SUM(A1)")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def qemus_under(path):
    """QEMU processes whose command line names a path under `path`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmd and str(path) in cmd:
            found.append(pid)
    return found


class Job:
    """A command started now and waited for later: the batch runs and the Gradescope
    runs of this module start together, so their waits and boots overlap."""

    def __init__(self, cmd, env=None, cwd=None):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
        self.output = None

    def wait(self):
        if self.output is None:
            try:
                self.output = self.p.communicate(timeout=RUN_TIMEOUT)[0]
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.output = self.p.communicate()[0] + "\n(killed: too slow)"
            self.seconds = time.monotonic() - self.t0
        return self


def start_batch(tmp, *args, cwd=None):
    """batch.py with its temporary files under tmp/work, to look for leftovers there."""
    work = Path(tmp) / "work"
    work.mkdir(exist_ok=True)
    job = Job([PY, GRADER / "course" / "batch.py", *args], env=dict(os.environ, TMPDIR=str(work)), cwd=cwd)
    job.work = work
    return job


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every slow run of this module, started at once."""
    tmp = tmp_path_factory.mktemp("class")
    # SUBMISSIONS and --out relative to the working folder (test_batch_relative_paths)
    make_class(tmp)
    out = {"class": start_batch(tmp, "class", "--lab", "01", "--out", "out", cwd=tmp)}
    out["class"].out = tmp / "out"
    slow = tmp_path_factory.mktemp("slow")
    write(slow / "class" / "slow", {STUDENT: sleeping_solution()})
    out["timeout"] = start_batch(slow, slow / "class", "--lab", "01", "--out", slow / "out",
                                 "--timeout", "2")
    out["timeout"].out = slow / "out"
    gs = tmp_path_factory.mktemp("gs")
    zip_path = gs / "autograder.zip"
    subprocess.run([PY, str(GRADER / "course" / "gradescope" / "build.py"), "--out", str(zip_path), "--lab", "01"],
                   check=True, capture_output=True)
    out["zip"] = zip_path
    out["gs-full"] = start_autograder(zip_path, gs / "full", {FILE: solution()})
    out["gs-link"] = start_autograder(zip_path, gs / "link", {}, symlink=(FILE, "/etc/passwd"))
    out["gs-late"] = start_autograder(zip_path, gs / "late", {FILE: solution()}, course=LATE_COURSE,
                                      metadata={"created_at": "2026-01-03T12:00:00.000000+00:00",
                                                "assignment": {"due_date": "2026-05-01T00:00:00Z"}})
    yield out
    for job in out.values():
        if isinstance(job, Job) and job.p.poll() is None:
            job.p.kill()
            job.p.wait()


@pytest.fixture(scope="module")
def gradebook(runs):
    job = runs["class"].wait()
    print(job.output, f"({job.seconds:.1f}s)")
    out = job.out
    rows = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    data = json.loads((out / "gradebook.json").read_text())
    return {"rows": rows, "json": data, "out": out, "run": job, "work": job.work}


# ---- the sample class ----------------------------------------------------------------------
def test_batch_full_marks_submission(gradebook):
    """The solution's files in a folder score every point of the lab."""
    row = gradebook["rows"]["full"]
    assert row["status"] == "ok", row
    assert int(row["total"]) == int(row["max"]) > 0
    assert int(row[LAB]) == int(row["max"])


def test_batch_partial_submission(gradebook):
    """One function left as the stub (a tar.gz with a top folder) scores some points, not all."""
    row = gradebook["rows"]["partial"]
    assert row["status"] == "ok", row
    assert 0 < int(row["total"]) < int(row["max"])


def test_batch_broken_submission_and_kit_changes_ignored(gradebook):
    """A bundle that does not compile scores zero as build-error; its own grader and
    Makefile are ignored and reported, not run."""
    row = gradebook["rows"]["broken"]
    assert row["status"] == "build-error", row
    assert int(row["total"]) == 0
    log = (gradebook["out"] / "logs" / "broken.log").read_text()
    assert "grader/grade.py differs from the kit's; ignored" in log
    assert "Makefile differs from the kit's; ignored" in log
    assert "error" in log and "gdt.c" in log  # the compiler's message is in the log


@pytest.mark.parametrize("student,reason", [
    ("symlink", "symbolic link"),
    ("dotdot", "contains '..'"),
    ("absolute", "absolute path"),
    ("hardlink", "hard link"),
    ("device", "device file"),
    ("bomb", "archive bomb"),
    ("oversized", "the limit is 256 KiB"),
    ("include", "outside the kit copy"),
    ("incbin", ".incbin"),
    ("empty", "no student files"),
    ("fifo", "not a regular file or a folder"),
])
def test_batch_refuses_malicious_submission(gradebook, student, reason):
    """Each malicious submission is refused with zero points and a reason that names the problem."""
    row = gradebook["rows"][student]
    assert row["status"] == "refused", row
    assert int(row["total"]) == 0
    assert reason in row["reason"], row["reason"]
    assert (gradebook["out"] / "logs" / f"{student}.log").read_text().count("REFUSED") == 1


def test_batch_log_and_console_hold_no_forged_lines(gradebook):
    """Member names with newlines and escape codes reach the log escaped, one line
    each: no forged "status: ok", no control character in the log or on the console."""
    row = gradebook["rows"]["forger"]
    assert row["status"] == "refused", row
    log = (gradebook["out"] / "logs" / "forger.log").read_text()
    lines = log.splitlines()
    assert [l for l in lines if l.startswith(("status:", "points:"))] == [
        f"status: refused (no student files for the graded lab(s): expected e.g. {STUDENT})",
        f"points: 0/{row['max']}"], lines[-4:]
    assert not CONTROL.search(log), repr(log)
    assert "notes\\nstatus: ok\\npoints: 999/999\\n.txt" in log  # shown, escaped, on one line
    assert "x\\x1b[2K\\rstatus: ok.txt" in log and "bell\\x07\\u202e.txt" in log
    assert not CONTROL.search(gradebook["run"].output), repr(gradebook["run"].output)


def test_batch_csv_cells_are_never_formulas(gradebook):
    """A student id that a spreadsheet would run (= + - @) is written as text."""
    rows = list(csv.reader(open(gradebook["out"] / "gradebook.csv")))
    for student in FORMULA_IDS:
        assert "'" + student in gradebook["rows"], sorted(gradebook["rows"])
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_batch_relative_paths(gradebook):
    """The class run's SUBMISSIONS and --out are relative to its working folder:
    its git bundles are read (git runs elsewhere; a bundle it could not read would
    be refused, not built) and the gradebook lands there."""
    assert gradebook["out"] == gradebook["work"].parent / "out" and (gradebook["out"] / "gradebook.csv").is_file()
    row = gradebook["rows"]["broken"]
    assert row["status"] == "build-error", (row, gradebook["run"].output)
    assert "grader/grade.py differs from the kit's; ignored" in (gradebook["out"] / "logs" / "broken.log").read_text()


def test_batch_gradebook_json_and_exit_status(gradebook):
    """The JSON gradebook holds the same verdicts, per-lab points and tests; the run exits 0
    (refusals are verdicts, not failures of the grader)."""
    data = gradebook["json"]
    assert data["labs"] == [LAB] and data["max"][LAB] > 0
    by = {s["student"]: s for s in data["students"]}
    assert {csv_cell(shown(s)) for s in by} == set(gradebook["rows"])
    full = by["full"]["labs"][LAB]
    assert full["points"] == full["max"] == data["max"][LAB]
    assert all(t["passed"] for t in full["tests"]) and full["tests"]
    assert gradebook["run"].p.returncode == 0


def test_batch_leaves_no_qemu_or_files(gradebook):
    """After the run no QEMU started by it remains and its work folder is gone."""
    assert not qemus_under(gradebook["work"])
    assert not any(gradebook["work"].glob("kit-batch-*"))


def test_batch_timeout_kills_the_grade_run(runs):
    """A submission that exceeds the wall-time bound is stopped, marked timeout, and
    nothing it started survives."""
    job = runs["timeout"].wait()
    row = next(csv.DictReader(open(job.out / "gradebook.csv")))
    assert row["status"] == "timeout", (row, job.output)
    assert "more than 2 s" in row["reason"]
    assert not qemus_under(job.work)


# ---- the pieces ------------------------------------------------------------------------------
def test_lab_mk_parsing():
    """lab.mk lists are read with continuations, += and comments."""
    text = "LAB_STUDENT_SRCS := a.c \\\n\tb.c # two\nLAB_STUDENT_SRCS += c.c\nLAB_DEPS :=\n"
    lists = parse_lab_mk(text)
    assert lists["LAB_STUDENT_SRCS"] == ["a.c", "b.c", "c.c"] and lists["LAB_DEPS"] == []
    kit = Kit(KIT)
    assert FILE in kit.labs[LAB]["student"]


def test_kill_tagged_reaches_a_process_in_its_own_session(tmp_path):
    """A grandchild that leads its own session (as QEMU under pexpect does) is killed by its tag."""
    tag = f"selftest-{os.getpid()}"
    code = ("import subprocess,time; subprocess.Popen(['sleep','60'], start_new_session=True);"
            "time.sleep(60)")
    p = subprocess.Popen([PY, "-c", code], env=dict(os.environ, **{procs.TAG_VAR: tag}),
                         start_new_session=True)
    def sleeping():
        return [p for p in procs.tagged_pids(tag)
                if Path(f"/proc/{p}/comm").read_text().strip() == "sleep"]
    deadline = time.monotonic() + 20
    while not sleeping() and time.monotonic() < deadline:  # sleep exec'd, its session made
        time.sleep(0.05)
    assert len(procs.tagged_pids(tag)) == 2
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert len(procs.tagged_pids(tag)) == 1  # the session leader survived its group's end...
    procs.kill_tagged(tag)
    deadline = time.monotonic() + 5
    while procs.tagged_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not procs.tagged_pids(tag)  # ...but not the tag scan


# ---- Gradescope ---------------------------------------------------------------------------------
def start_autograder(zip_path, tmp, submission_files, symlink=None, course=None, metadata=None):
    """Unzip like Gradescope (/autograder/source), start run_autograder on the files
    (course: the zip's course.toml replaced by this text; metadata: Gradescope's
    submission_metadata.json)."""
    root = Path(tmp) / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile drops the modes: put back the exec bits
            if (info.external_attr >> 16) & 0o111:
                os.chmod(root / "source" / info.filename, 0o755)
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    os.chmod(root / "run_autograder", 0o755)
    (root / "submission").mkdir()
    write(root / "submission", submission_files)
    if symlink:
        os.symlink(symlink[1], root / "submission" / symlink[0])
    (root / "results").mkdir()
    if course is not None:
        (root / "source" / "course.toml").write_text(course)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    job = Job([root / "run_autograder"], env=dict(os.environ, AUTOGRADER_ROOT=str(root)))
    job.root = root
    return job


def autograder_results(job):
    job.wait()
    assert job.p.returncode == 0, job.output
    return json.loads((job.root / "results" / "results.json").read_text())


def test_gradescope_zip_layout(runs):
    """The zip has setup.sh and run_autograder at its root (executable), the grader and
    the kit, and no solution of the lab it grades."""
    with zipfile.ZipFile(runs["zip"]) as zf:
        names = set(zf.namelist())
        setup = zf.read("setup.sh").decode()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
    assert {"setup.sh", "run_autograder", "grader/grade.py", "grader/course/batch.py", "Makefile",
            "labs/kernel/linker.ld", f"labs/{LAB}/lab.mk", STUDENT} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not [n for n in names if n.startswith(f"solutions/{LAB}/")]
    assert not [n for n in names if n.startswith(("build/", ".git/"))]
    for pkg in ("qemu-system-x86", "grub-pc-bin", "grub-common", "genisoimage", "gcc", "make",
                "binutils", "python3-pytest", "python3-pexpect", "python3-pytest-xdist"):
        assert re.search(rf"apt-get install -y.*\b{re.escape(pkg)}\b", setup), pkg


def zip_course(zip_path):
    """(labs whose solutions the zip holds, the published list of its course.toml)"""
    with zipfile.ZipFile(zip_path) as zf:
        sols = {n.split("/")[1] for n in zf.namelist() if n.startswith("solutions/")}
        course = tomllib.loads(zf.read("course.toml").decode())
    return sols, course.get("published")


def test_gradescope_zip_ships_published_earlier_solutions_only(runs, tmp_path):
    """A zip ships the published solutions of the graded labs' earlier labs, never
    the graded lab's own nor an unpublished one, and its course.toml publishes
    exactly those (so its build rules link them)."""
    kit = Kit(KIT)
    assert zip_course(runs["zip"]) == (set(), [])  # lab 01 links no earlier lab
    graded = next(l for l in kit.labs if len([d for d in kit.labs[l]["deps"] if d != l]) >= 2)
    first, second = [d for d in kit.labs[graded]["deps"] if d != graded][:2]
    zip_path = tmp_path / "gs.zip"
    r = subprocess.run([PY, str(GRADER / "course" / "gradescope" / "build.py"), "--out", str(zip_path),
                        "--lab", graded, "--published", f"{first} {graded}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert zip_course(zip_path) == ({first}, [first])  # not second (unpublished), not graded (graded)
    r = subprocess.run([PY, str(GRADER / "course" / "gradescope" / "build.py"), "--out", str(zip_path),
                        "--lab", graded], capture_output=True, text=True)
    published = [d for d in (first, second) if d in kit.published]  # course.toml's own list
    assert zip_course(zip_path) == (set(published), published)


def test_gradescope_run_autograder_grades_bare_files(runs):
    """run_autograder grades a bare upload of gdt.c and writes per-test score, max_score,
    output and visibility."""
    res = autograder_results(runs["gs-full"])
    tests = res["tests"]
    assert tests and all({"name", "score", "max_score", "output", "visibility"} <= set(t) for t in tests)
    assert res["score"] == sum(t["max_score"] for t in tests) > 0
    assert STUDENT in res["output"]
    assert not qemus_under(runs["gs-full"].root)


def first_test_of(lab):
    """The name of the first test function of lab's test file."""
    path = next(GRADER.glob(f"test_{lab[:2]}_*.py"))
    return re.search(r"(?m)^def (test_\w+)\(", path.read_text()).group(1)


HIDDEN = first_test_of(LAB)
LATE_COURSE = f"""published = []
[late]
grace_minutes = 15
penalty_per_day = 20
cap = 100
late_days = 1
[labs.{LAB}]
deadline = 2026-01-01T00:00:00Z
hidden = ["{HIDDEN}"]
"""


def test_gradescope_late_submission_penalised_and_hidden_tests_hidden(runs):
    """A full-marks upload 2.5 days past the course file's deadline (not the
    assignment's later due date): 3 days late, 1 late day, 2 days at 20%: 60% of
    the points, said in the output; the hidden test has visibility after_due_date,
    every test a status."""
    res = autograder_results(runs["gs-late"])
    tests = res["tests"]
    full = sum(t["max_score"] for t in tests)
    assert full > 0 and all(t["status"] == "passed" for t in tests), tests
    assert res["score"] == round(full * 0.6, 2)
    assert "3 day(s) late" in res["output"] and "penalty 40%" in res["output"], res["output"]
    hidden = [t for t in tests if t["name"] == f"{LAB}: {HIDDEN}"]
    assert len(hidden) == 1 and hidden[0]["visibility"] == "after_due_date"
    assert all(t["visibility"] == "visible" for t in tests if t is not hidden[0])


def test_gradescope_run_autograder_refuses_a_link(runs):
    """A submission with a symbolic link gets zero and the reason in results.json."""
    res = autograder_results(runs["gs-link"])
    assert res["score"] == 0 and res["tests"] == []
    assert "symbolic link" in res["output"] and "not graded" in res["output"]


def intake(path, tmp):
    kit = Kit(KIT)
    return read_submission(path, kit, tmp, procs.Procs(subreaper=False))


def test_intake_maps_bare_and_nested_files(tmp_path):
    """Bare files go to their lab's folder (Lab 4's warmup/ too); a header named like a kit
    header and files outside starter/ are ignored, not taken."""
    warmup = next((f for f in Kit(KIT).bare if "/" in f), None)
    files = {FILE: "int x;\n", "notes.txt": "hi\n", f"{LAB}/gdt.h": "#pragma once\n"}
    if warmup:
        files[warmup] = "int y;\n"
    write(tmp_path / "bare", files)
    got = intake(tmp_path / "bare", tmp_path)
    assert STUDENT in got.files and len(got.files) == 1 + bool(warmup)
    assert any("gdt.h" in p and "header named like" in why for p, why in got.ignored)
    assert any(p == "notes.txt" for p, _ in got.ignored)


def test_intake_reads_archives_without_extracting(tmp_path):
    """A zip symlink is refused; a bundle with one branch and no HEAD is read at that branch."""
    zpath = tmp_path / "link.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo(STUDENT)
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(Refused, match="symbolic link"):
        intake(zpath, tmp_path)
    bpath = tmp_path / "branch.bundle"
    bundle(bpath, {STUDENT: "int z;\n"}, tmp_path)
    repo = tmp_path / "only-branch.bundle"
    subprocess.run(["git", "-C", str(tmp_path / "branch-repo"), "bundle", "create", "-q", str(repo), "main"],
                   check=True, stderr=subprocess.DEVNULL)
    (tmp_path / "b2").mkdir()
    assert intake(repo, tmp_path / "b2").files == {STUDENT: b"int z;\n"}


# ---- bounded intake ----------------------------------------------------------------------------
def git_bomb(path, tmp, levels=7):
    """A bundle of a few KB whose tree names 10**levels paths: one tree object
    of ten entries, used ten times at every level."""
    repo = Path(tmp) / "bomb-repo"
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp), GIT_AUTHOR_NAME="s",
               GIT_AUTHOR_EMAIL="s@example.org", GIT_COMMITTER_NAME="s", GIT_COMMITTER_EMAIL="s@example.org")

    def git(*args, data=b""):
        return subprocess.run(["git", "-C", str(repo), *args], input=data, env=env, check=True,
                              capture_output=True).stdout.decode().strip()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=env, check=True)
    entry = "100644 blob " + git("hash-object", "-w", "--stdin", data=b"int x;\n")
    for level in range(levels):
        name = "f{}.c" if level == 0 else "d{}"
        entry = "040000 tree " + git("mktree", data="".join(f"{entry}\t{name.format(i)}\n"
                                                            for i in range(10)).encode())
    root = git("mktree", data=f"{entry}\tstarter\n".encode())
    git("update-ref", "refs/heads/main", git("commit-tree", root, "-m", "bomb"))
    git("bundle", "create", "-q", str(path), "main")
    return path


def test_intake_git_bomb_is_refused_in_bounded_memory(tmp_path):
    """A bundle of 10^7 paths is refused at the entry limit within seconds; neither
    the reader nor git grows past a few tens of MiB (git's output is read as it comes)."""
    path = git_bomb(tmp_path / "bomb.bundle", tmp_path)
    assert path.stat().st_size < 16 << 10
    code = ("import json, resource, sys; sys.path.insert(0, sys.argv[1])\n"
            "from course.intake import Refused, read_submission\n"
            "from course.kit import Kit\n"
            "from course.procs import Procs\n"
            "try:\n    read_submission(sys.argv[2], Kit(sys.argv[3]), sys.argv[4], Procs(subreaper=False))\n"
            "    why = None\nexcept Refused as e:\n    why = str(e)\n"
            "peak = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
            "print(json.dumps({'why': why, 'peak': peak << 10}))\n")
    (tmp_path / "work").mkdir()
    t = time.monotonic()
    r = subprocess.run([PY, "-c", code, str(GRADER), str(path), str(KIT), str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["why"] and "more than" in res["why"] and "entries" in res["why"], res
    assert res["peak"] < 200 << 20, f"peak memory {res['peak'] >> 20} MiB"
    assert seconds < 30, f"took {seconds:.0f} s"


def test_intake_never_opens_a_fifo(tmp_path):
    """A FIFO named like an archive is refused from lstat alone (opening it would
    wait for a writer forever)."""
    os.mkfifo(tmp_path / "x.tar")
    done = []
    t = __import__("threading").Thread(target=lambda: done.append(
        pytest.raises(Refused, intake, tmp_path / "x.tar", tmp_path)), daemon=True)
    t.start()
    t.join(10)
    assert done, "reading a FIFO submission blocked"
    assert "not a regular file" in str(done[0].value)


# ---- a grade run that does not end well --------------------------------------------------------
@pytest.mark.parametrize("rc,sent,verdict", [
    (-9, b'{"results": []}', "killed by signal 9"),
    (1, b"", "without results"),
    (1, b'{"results": [{"lab"', "not JSON"),
    (0, b'{"results": 7}', "without their tests"),
    (0, b'{"results": [{"lab": "x"}]}', "without their tests"),
    (3, b'{"results": []}', "exit 3"),
    (1, b'{"results": []}', None),
])
def test_grade_results_judge_the_grade_run(rc, sent, verdict):
    """A grade run that was killed, exited oddly, sent nothing, or sent cut-short or
    shapeless JSON is the grader's failure; exit 0 or 1 with results is a verdict."""
    data, why = batch.grade_results(rc, sent)
    if verdict is None:
        assert data == {"results": []} and why is None
    else:
        assert data is None and verdict in why, why


GRADE_WITH = """import json, sys
sys.path.insert(0, sys.argv[1])
from course import batch
from course.kit import Kit
batch.PY = sys.argv[2]
out = batch.Batch(Kit(sys.argv[3]), [sys.argv[4]], 120, sys.argv[5]).grade(sys.argv[6])
print(json.dumps({"status": out.status, "reason": out.reason, "points": out.total()[0]}))
"""
FAKE_GRADE = {  # what stands in for the interpreter running grade.py
    "dies": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "pipe": ("import json, sys\nargs = sys.argv[1:]\n"
             "open('results.json', 'w').write('{\"results\": []}')  # a file is not listened to\n"
             "open(args[args.index('--json') + 1], 'w').write(json.dumps({'results': [{'lab': args[args.index('--lab') + 1], "
             "'name': 'test_x', 'points': 5, 'passed': True}], 'build': {args[args.index('--lab') + 1]: [True, 0]}}))\n"),
}


@pytest.mark.parametrize("fake,status,points", [("dies", "error", 0), ("pipe", "ok", 5)])
def test_grade_run_results_come_over_a_pipe(tmp_path, fake, status, points):
    """The batch takes the results grade.py writes to its pipe (never a file in the
    grading copy); a grade.py killed by a signal makes the submission `error`."""
    script = tmp_path / "python"
    script.write_text(f"#!{PY}\n" + FAKE_GRADE[fake])
    script.chmod(0o755)
    write(tmp_path / "sub", {STUDENT: solution()})
    (tmp_path / "work").mkdir()
    r = subprocess.run([PY, "-c", GRADE_WITH, str(GRADER), str(script), str(KIT), LAB, str(tmp_path / "work"),
                        str(tmp_path / "sub")], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert (out["status"], out["points"]) == (status, points), out
    if fake == "dies":
        assert "killed by signal 9" in out["reason"], out


def test_sigterm_ends_the_batch_at_once_with_a_gradebook(tmp_path):
    """SIGTERM while a kernel hangs under the grader (and a FIFO waits in the folder):
    the batch exits 143 within seconds, no QEMU left, and its gradebook lists every
    submission (what was graded, the rest interrupted)."""
    c = tmp_path / "class"
    write(c / "hangs", {STUDENT: sleeping_solution()})
    os.mkfifo(c / "x.tar")
    job = start_batch(tmp_path, c, "--lab", "01", "--out", tmp_path / "out", "--jobs", "1")
    deadline = time.monotonic() + 120
    while not qemus_under(job.work) and time.monotonic() < deadline and job.p.poll() is None:
        time.sleep(0.1)
    assert qemus_under(job.work), "the hanging kernel never booted"
    t = time.monotonic()
    job.p.send_signal(signal.SIGTERM)
    job.wait()
    assert job.p.returncode == 143, job.output
    assert time.monotonic() - t < 15
    assert not qemus_under(job.work)
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert rows["hangs"]["status"] == "interrupted" and rows["x"]["status"] in ("refused", "interrupted"), rows
