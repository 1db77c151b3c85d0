"""make grade's output starts with what to do (issue 17): one line per stub
with the tests it stops, a starter over all labs on one screen, each lab's
header with the command that repeats its random values, the kernel's own
diagnostic lines quoted in a failure, and messages that name the first
difference of tables, registers and pools."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness import config, machine, paging

GRADER = config.KIT / "grader"
sys.path.insert(0, str(GRADER))
import grade  # noqa: E402

PY = "/usr/bin/python3"
SCREEN = 40  # lines: a starter graded over all labs fits a terminal


def result(name, lab, message="", points=2, passed=False):
    return {"name": f"test_{name}", "lab": lab, "points": points, "passed": passed, "message": message,
            "seconds": 0.0, "seed": 1}


def stub(fn, lab_no, path):
    return (f"not implemented: {fn} (Lab {lab_no}) is still a stub; write it in {path}.\n"
            f"Last serial lines:\n  | PANIC at {path}:9: {fn}: LAB {lab_no} not implemented")


# ---- the table, from results (no QEMU) ---------------------------------------------------

def test_one_line_per_stub_naming_the_tests_it_stops():
    """Tests stopped by a stub make one line per stub function, with the tests
    and points it costs (a file in the lab's own folder by its name there);
    other failures and passes keep their own lines."""
    lab = "03-cr3"
    rows = [result("a", lab, stub("cr3_flags", 3, "starter/03-cr3/cr3.c")),
            result("b", lab, stub("phys_to_virt", 3, "starter/03-cr3/cr3.c")),
            result("c", lab, "the shared boot stopped during an earlier test: "
                   + stub("phys_to_virt", 3, "starter/03-cr3/cr3.c"), points=5),
            result("d", lab, "PML4[3] differs"), result("e", lab, passed=True)]
    lines, rest = grade.stub_lines(lab, rows)
    assert lines == ["  stub cr3_flags (cr3.c): stops 1 test, 2 points: a",
                     "  stub phys_to_virt (cr3.c): stops 2 tests, 7 points: b, c"], lines
    assert [r["name"] for r in rest] == ["test_d", "test_e"]
    lines, _ = grade.stub_lines("05-map-to", [result(n, "05-map-to", stub(
        "gdt_init", 1, "starter/01-segmentation/gdt.c")) for n in "xyz"])
    assert lines == ["  stub gdt_init (Lab 1, starter/01-segmentation/gdt.c): stops all 3 tests, 6 points"]
    many = [result(f"a_rather_long_test_name_{i}", lab, stub("translate", 3, "w.c")) for i in range(9)]
    (line,), _ = grade.stub_lines(lab, many + [result("other", lab, passed=True)])
    assert len(line) <= grade.STUB_LINE and line.endswith(" more"), line
    (line,), _ = grade.stub_lines(lab, [result("x" * grade.STUB_LINE, lab, stub("translate", 3, "w.c")),
                                        result("y", lab, stub("translate", 3, "w.c")), result("z", lab)])
    assert line.endswith(f": {'x' * grade.STUB_LINE}, +1 more"), line  # one name at least


def test_start_here_names_the_earliest_labs_stub_and_its_file():
    """The first lines name the stub of the earliest lab (the one stopping most
    tests there), its file, its handout and the command to run next."""
    rows = [result("a", "04-page-walk", stub("translate", 4, "starter/04-page-walk/walk.c"))] + \
        [result(n, lab, stub("gdt_init", 1, "starter/01-segmentation/gdt.c"))
         for n, lab in (("b", "01-segmentation"), ("c", "02-page-fault"), ("d", "02-page-fault"))]
    first, second = grade.start_here(rows)
    assert first == ("Start here: gdt_init in starter/01-segmentation/gdt.c is still a stub (Lab 1); "
                     "3 tests in 2 labs stop at it."), first
    assert second == "Write it (handouts/01-segmentation.md), then: make grade LAB=01", second
    assert grade.start_here([result("e", "04-page-walk", "wrong", passed=False)]) == []


def test_repeat_command_quotes_what_the_shell_would_split():
    """The header's command repeats the run as typed: the seed, the lab, TEST=
    and SUBMISSION= quoted for a shell."""
    cmd = grade.repeat_command("05-map-to", 123456, [("TEST", "map fails"), ("SUBMISSION", "my work/x")])
    assert cmd == "KIT_SEED=123456 make grade LAB=05 TEST='map fails' SUBMISSION='my work/x'", cmd


def test_seed_is_checked_and_shared(monkeypatch):
    """KIT_SEED must be a positive number; without it one is drawn once and put in the
    environment, so every lab of the run (and pytest's workers) use the same."""
    monkeypatch.setenv("KIT_SEED", "12x")
    try:
        config.run_seed()
        raise AssertionError("KIT_SEED=12x was taken")
    except config.SeedError as e:
        assert "KIT_SEED='12x'" in str(e)
    monkeypatch.delenv("KIT_SEED")
    seed = config.run_seed()
    assert os.environ["KIT_SEED"] == str(seed) and config.run_seed() == seed
    a, b = config.new_rng("05-map-to"), config.new_rng("05-map-to")
    assert a.seed_value == seed and a.random() == b.random() != config.new_rng("04-page-walk").random()


# ---- the kernel's own diagnostics ----------------------------------------------------------

class Printed:
    """What the harness keeps of a machine's serial output, nothing else."""

    def __init__(self, text, started):
        self.raw, self.started = bytearray(text.encode()), started


def test_failure_quotes_the_kernels_diagnostic_lines():
    """Lines marked "kit! " (kdiag) and panic lines printed during the test are
    added under "The kernel said:", before the serial tail; lines printed
    before the test, or quoted already, are not; at most DIAG_LINES and a count."""
    m = Printed("lab> read 0x1000\n", started=1.0)
    machine._printing.add(m)
    try:
        since = machine.marks()
        m.raw += b"kit! lazy: demand_map(0x1000) = -4 MAP_ERR_INVALID\nread 0x1000: page fault\n"
        got = machine.quote_diagnostics("reading 0x1000 gave a page fault\nLast serial lines:\n  | x", since)
        assert got == ("reading 0x1000 gave a page fault\nThe kernel said:\n"
                       "  | kit! lazy: demand_map(0x1000) = -4 MAP_ERR_INVALID\nLast serial lines:\n  | x"), got
        assert machine.quote_diagnostics("said: kit! lazy: demand_map(0x1000) = -4 MAP_ERR_INVALID", since) \
            == "said: kit! lazy: demand_map(0x1000) = -4 MAP_ERR_INVALID"
        assert machine.quote_diagnostics("x", machine.marks()) == "x"
        m.raw += "".join(f"kit! bad frame 0x{i:x}000 from frame_alloc: in the kernel\n"
                         for i in range(1, 8)).encode()
        said = machine.quote_diagnostics("x", since).splitlines()
        assert len(said) == 3 + machine.DIAG_LINES and said[-1] == "  (and 4 more such lines)", said
        assert "lab> read" not in "\n".join(said)
    finally:
        machine._printing.discard(m)


def test_kit_files_mark_their_diagnostics():
    """The kernel's marker and the harness's pattern agree, and the kit's own
    files print their checks of student results with kdiag()."""
    kit_h = (config.KIT / "labs" / "kernel" / "include" / "kit" / "kit.h").read_text()
    mark = re.search(r'#define KDIAG_MARK "([^"]*)"', kit_h).group(1)
    assert machine.DIAG.fullmatch(mark + "anything"), mark
    for path in ("05-map-to/fault.c", "05-map-to/pool.c", "02-page-fault/scenarios.c"):
        assert "kdiag(" in (config.KIT / "labs" / path).read_text(), path


# ---- first differences ---------------------------------------------------------------------

def table(**entries):
    t = [0] * 512
    for k, v in entries.items():
        t[int(k[1:])] = v
    return tuple(t)


def test_page_table_change_names_level_index_before_and_after():
    """describe_changes names the first differing entry by its path from the
    PML4, its table, old -> new with flags, and counts the rest; A/D and an
    unchanged tree say nothing."""
    before = paging.Tables(0x1000, {0x1000: table(i5=0x2003), 0x2000: table()})
    after = paging.Tables(0x1000, {0x1000: table(i5=0x2023), 0x2000: table(i7=0x3007),
                                   0x3000: table(i9=0x200083 | paging.NX)})
    assert paging.describe_changes(before, after) == (
        "PML4[5] > PDPT[7] (table at 0x2000): 0x0000000000000000 -> 0x0000000000003007 (P W U)"
        " (and 1 more entry changed)")
    changes = paging.table_changes(before, after)
    assert [c.path for c in changes] == [((4, 5), (3, 7)), ((4, 5), (3, 7), (2, 9))]
    assert paging.describe_changes(before, paging.Tables(0x1000, {0x1000: table(i5=0x2063),
                                                                  0x2000: table()})) == ""
    assert "CR3 moved" in paging.describe_changes(before, paging.Tables(0x5000, {}))
    # unchanged tables on the way (walked by their links alone) down to a changed PT
    path = {0x1000: table(i3=0x2001), 0x2000: table(i5=0x3001), 0x3000: table(i7=0x4001)}
    deep = paging.Tables(0x1000, {**path, 0x4000: table(i9=0x9001)})
    assert paging.describe_changes(paging.Tables(0x1000, {**path, 0x4000: table()}), deep) == \
        "PML4[3] > PDPT[5] > PD[7] > PT[9] (table at 0x4000): 0x0000000000000000 -> 0x0000000000009001 (P)"
    assert paging.word_changes(bytes(16), bytes(8) + (5).to_bytes(8, "little")) == [(1, 0, 5)]


# ---- make grade itself (boots QEMU) ---------------------------------------------------------

def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "MAKE", "PYTEST"))}
    env.update(extra)
    return env


def test_starter_over_all_labs_fits_a_screen_and_says_what_to_do(tmp_path):
    """`make grade` over every lab of a copy of the starter prints at most SCREEN
    lines: first the stub to write and its file, then per lab a header with its
    seed and the repeat command, one line per stub, the score."""
    copy = config.KIT / "build" / "selftest-starter"  # one build folder, kept between runs
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(config.KIT / "starter", copy / "starter")  # copy2: times kept, builds too
    r = subprocess.run(["make", "-s", "grade", f"SUBMISSION={copy}"], cwd=config.KIT, env=clean_env(),
                       capture_output=True, text=True, timeout=600)
    out = (r.stdout + r.stderr).rstrip("\n")
    lines = out.splitlines()
    assert r.returncode != 0 and len(lines) <= SCREEN, f"{len(lines)} lines:\n{out}"
    assert re.match(r"Start here: gdt_init in \S*starter/01-segmentation/gdt\.c is still a stub", lines[0]), out
    assert "make grade LAB=01" in lines[1], out
    for lab in config.labs():
        head = next((l for l in lines if l.startswith(f"{lab} (")), None)
        assert head and re.search(rf"repeat: KIT_SEED=\d+ make grade LAB={lab[:2]} SUBMISSION=\S+$", head), out
    assert " FAIL " not in out and "Last serial lines" not in out, out


def grade_lab05(seed, tmp_path, name, labs=("05",)):
    """Grade the solution of `labs` with KIT_SEED=seed: (output, --json results,
    what Lab 05's kernels printed, sorted)."""
    trans, js = tmp_path / name, tmp_path / f"{name}.json"
    r = subprocess.run([PY, str(GRADER / "grade.py"), "--solution", "--json", str(js)]
                       + [w for lab in labs for w in ("--lab", lab)],
                       env=clean_env(KIT_SEED=str(seed), KIT_TRANSCRIPTS=str(trans)),
                       capture_output=True, text=True, timeout=300)
    results = json.loads(js.read_text())
    # the line end after a panic's last line may or may not be read before QEMU
    # is closed (a read race, not the seed): compare the text up to it
    texts = sorted(p.read_text().rstrip("\n") for p in trans.glob("05-map-to-*"))
    return r.stdout, results, texts


def first_difference(a, b):
    """The first line where two lists of transcripts differ, for the message."""
    for x, y in zip(a, b):
        for i, (lx, ly) in enumerate(zip(x.splitlines() + [""], y.splitlines() + [""])):
            if lx != ly:
                return f"line {i + 1}: {lx!r} / {ly!r}"
    return f"{len(a)} / {len(b)} transcripts"


def test_kit_seed_repeats_lab05s_addresses(tmp_path):
    """The repeat command a header of a run over several labs prints,
    `KIT_SEED=<seed> make grade LAB=05`, gives the same boots: Lab 05's kernels
    print the same addresses (pool, physoff, maps, reads); another seed gives
    others. --json records the seed with every test."""
    out, first, texts = grade_lab05(271828, tmp_path, "a", labs=("04", "05"))
    assert "repeat: KIT_SEED=271828 make grade LAB=05 SOLUTION=1" in out, out
    assert first["seed"] == 271828 and {r["seed"] for r in first["results"]} == {271828}, first
    assert all(r["passed"] for r in first["results"]), out  # a failing solution prints otherwise
    assert texts and re.search(r"physoff 0x[0-9a-f]+", "".join(texts))
    _, again, texts2 = grade_lab05(271828, tmp_path, "b")
    assert texts2 == texts, "the same seed gave other kernel output: " + first_difference(texts, texts2)
    _, other, texts3 = grade_lab05(314159, tmp_path, "c")
    assert texts3 != texts and {r["seed"] for r in other["results"]} == {314159}
