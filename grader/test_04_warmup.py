"""Lab 4, Part A: three page-table designs translated on the host.

The student's toy.c, x86_32.c and inverted.c are compiled natively with the
kit's driver (labs/04-page-walk/warmup/driver.c), run on tables this grader
generates at random, and every answer is compared with the models in
models/page_tables.py.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import config
from models import page_tables as pt

LAB = "04-page-walk"
WARMUP = config.KIT / "labs" / LAB / "warmup"
SOURCES = ("toy.c", "x86_32.c", "inverted.c")
RUN_TIMEOUT = 5


# The student's host code runs confined: no network (a fresh network namespace
# when unshare is allowed), as nobody when the grader runs as root, and with
# CPU, memory, file-size and process limits.
NOBODY = 65534
SANDBOX = (["unshare", "--net", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
            "--clear-groups", "--"]
           if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("setpriv") else [])


def _confine():
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (RUN_TIMEOUT, RUN_TIMEOUT))
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))


class Driver:
    """The compiled driver: run(mode, table_args, queries) -> answer lines."""

    def __init__(self, exe, tmp):
        self.exe, self.tmp = exe, tmp

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb" if isinstance(data, (bytes, bytearray)) else "w") as f:
            f.write(data)
        return path

    def run(self, mode, args, queries):
        try:
            r = subprocess.run(SANDBOX + [self.exe, mode, *args], input="\n".join(queries) + "\n",
                               capture_output=True, text=True, timeout=RUN_TIMEOUT,
                               preexec_fn=_confine, env={"PATH": "/usr/bin:/bin"}, cwd=self.tmp)
        except subprocess.TimeoutExpired:
            pytest.fail(f"timeout: the {mode} translator ran for more than {RUN_TIMEOUT} s "
                        "(an endless loop, e.g. a hash chain you never leave?)", pytrace=False)
        if r.returncode != 0:
            why = f"signal {-r.returncode}" if r.returncode < 0 else f"status {r.returncode}"
            pytest.fail(f"the {mode} translator stopped with {why}:\n{r.stderr.strip()[-1500:]}",
                        pytrace=False)
        lines = r.stdout.split()
        if len(lines) != len(queries):
            pytest.fail(f"the {mode} translator answered {len(lines)} of {len(queries)} queries",
                        pytrace=False)
        return lines


@pytest.fixture(scope="module")
def driver():
    """Compile the student's Part A files with the kit's driver, once per module."""
    student = config.student_dir(LAB) / "warmup"
    tmp = tempfile.mkdtemp(prefix="kit-warmup-")
    exe = os.path.join(tmp, "warmup")
    cmd = ["gcc", "-std=gnu11", "-O1", "-Wall", "-I", str(WARMUP), str(WARMUP / "driver.c"),
           *(str(student / s) for s in SOURCES), "-o", exe]
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        if r.returncode != 0:
            pytest.fail(f"build error: Part A does not compile:\n{r.stderr[-3000:]}", pytrace=False)
        os.chmod(tmp, 0o755)
        yield Driver(exe, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(pa):
    return "fault" if pa is None else hex(pa)


def check(answers, queries, expected, what):
    """Fail on the first answer that differs from the model, showing the query."""
    for q, got, want in zip(queries, answers, expected):
        assert got == fmt(want), (f"{what}: query {q}: translated to {got}, expected "
                                  f"{fmt(want)}")


# ---- the linear toy table ----------------------------------------------------
@pytest.mark.points(1)
def test_toy_worked_example(driver):
    """Virtual 0010000000000100 through entry 2 = 1101 (frame 110, present) gives 110000000000100."""
    entries = [0] * pt.TOY_ENTRIES
    entries[2] = 0b1101
    table = driver.write("toy-example.txt", pt.toy_file(entries))
    queries = [hex(0b0010000000000100), hex(0b0011000000000100)]
    answers = driver.run("toy", [table], queries)
    assert answers[0] == hex(0b110000000000100), \
        f"0b0010000000000100 translated to {answers[0]}, expected 0b110000000000100 (0x6004)"
    assert answers[1] == "fault", f"entry 3 is not present, yet 0x3004 translated to {answers[1]}"


@pytest.mark.points(2)
def test_toy_random_tables(driver, rng):
    """Every address of random 16-entry toy tables translates as the model does, holes included."""
    for n in range(3):
        entries = pt.random_toy(rng)
        table = driver.write(f"toy{n}.txt", pt.toy_file(entries))
        vas = [i << 12 | rng.getrandbits(12) for i in range(pt.TOY_ENTRIES)]
        vas += [rng.getrandbits(16) for _ in range(16)]
        queries = [hex(v) for v in vas]
        check(driver.run("toy", [table], queries), queries,
              [pt.toy_translate(entries, v) for v in vas], f"toy table {entries}")


# ---- 32-bit two-level paging -------------------------------------------------
def run_x86_32(driver, rng, pick, name):
    t = pt.random_x86_32(rng)
    mem = driver.write(f"{name}.bin", bytes(t.mem))
    vas = pick(t)
    queries = [hex(v) for v in vas]
    answers = driver.run("x86_32", [mem, hex(t.cr3)], queries)
    check(answers, queries, [pt.x86_32_translate(t.mem, t.cr3, v) for v in vas],
          f"32-bit tables (CR3 {t.cr3:#x})")


@pytest.mark.points(2)
def test_x86_32_4k_pages(driver, rng):
    """Addresses under page tables (present and not) translate as the model's two-level walk does."""
    run_x86_32(driver, rng, lambda t: [pt.x86_32_va(rng, s) for s in t.small for _ in range(12)],
               "x32-small")


@pytest.mark.points(2)
def test_x86_32_4m_pages(driver, rng):
    """A directory entry with PS maps a 4 MiB page: 22 offset bits, flag bits and PAT masked out."""
    run_x86_32(driver, rng, lambda t: [pt.x86_32_va(rng, s) for s in t.huge for _ in range(6)]
               + [pt.x86_32_va(rng, s) for s in t.small[:2]], "x32-huge")


@pytest.mark.points(1)
def test_x86_32_directory_holes(driver, rng):
    """A directory entry without P faults even when its other bits hold leftovers."""
    run_x86_32(driver, rng, lambda t: [pt.x86_32_va(rng, s) for s in rng.sample(t.holes, 24)]
               + [pt.x86_32_va(rng, s) for s in t.huge[:2] + t.small[:2]], "x32-holes")


# ---- the inverted table -------------------------------------------------------
def run_inverted(driver, rng, pick, name):
    t = pt.random_inverted(rng)
    table = driver.write(f"{name}.txt", t.file())
    keys = pick(t)
    vas = [(pid, vpn << 12 | rng.getrandbits(12)) for pid, vpn in keys]
    queries = [f"{pid} {va:#x}" for pid, va in vas]
    check(driver.run("inverted", [table], queries), queries,
          [pt.ipt_translate(t, pid, va) for pid, va in vas], "inverted table")


@pytest.mark.points(2)
def test_inverted_hits_on_long_chains(driver, rng):
    """Every mapped (pid, page) is found, wherever it sits in its hash chain."""
    run_inverted(driver, rng, lambda t: rng.sample(t.mapped(), 40), "ipt-hits")


@pytest.mark.points(1)
def test_inverted_other_address_space(driver, rng):
    """A page mapped for one pid is not found for another pid walking the same chain."""
    def pick(t):
        fresh = [(rng.randrange(1, 5), rng.getrandbits(20)) for _ in range(10)]
        return t.traps + fresh + rng.sample(t.mapped(), 10)
    run_inverted(driver, rng, pick, "ipt-others")


@pytest.mark.points(1)
def test_inverted_unused_frames_never_match(driver, rng):
    """A free frame left in a chain does not translate, even with a matching pid and page."""
    run_inverted(driver, rng, lambda t: t.stale + rng.sample(t.mapped(), 10), "ipt-stale")
