"""The mutation suite's runner (grader/mutants.py) without grading anything:
headers, patches that do not apply, verdicts from grade.py's results, the
rotating sample; and the suite never ships (releases, the Gradescope zip)
while the leak check would find a mutant that did. `make check` grades a
sample of real mutants; `make mutants` all of them."""
import datetime
import importlib.util
import json
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "grader"))

import mutants  # noqa: E402
from course import dist, leaks  # noqa: E402

LAB = "01-segmentation"
SRC = f"solutions/{LAB}/gdt.c"
HUNK = f"""--- a/{SRC}
+++ b/{SRC}
@@ -1,3 +1,3 @@
 /*
- * Lab 1 (solution): descriptors, the kernel GDT and TSS, and a call gate.
+ * Lab 1 (solution): descriptors, the kernel GDT and TSS and a call gate.
  */
"""


def write(tmp_path, text, name="01-x.patch"):
    p = tmp_path / LAB / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return mutants.parse(LAB, p)


def test_every_shipped_mutant_is_well_formed_and_applies():
    """Each grader/mutants/<lab>/*.patch has a class line, patches only its lab's solution, applies."""
    ms = mutants.load()
    assert ms, "no mutants in grader/mutants/"
    for m in ms:
        assert not m.problem, f"{m.path}: {m.problem}"
        assert (KIT / "labs" / m.lab).is_dir(), f"{m.path}: no lab {m.lab}"
    assert mutants.list_mutants(ms) == 0


@pytest.mark.parametrize("head, problem", [
    ("", "first line"),
    ("# bug: no class\n", "first line"),
    ("# classic: ok\n# because: what\n", "unknown header line"),
])
def test_malformed_headers_are_refused(tmp_path, head, problem):
    assert problem in write(tmp_path, head + HUNK).problem


def test_header_fields(tmp_path):
    m = write(tmp_path, "# subtle: a comma dropped\n# equivalent: a comment\n# build: never\n" + HUNK)
    assert (m.cls, m.what, m.equivalent, m.build, m.problem) == \
        ("subtle", "a comma dropped", "a comment", "never", "")


def test_a_patch_outside_its_lab_is_refused(tmp_path):
    other = HUNK.replace(SRC, "solutions/02-page-fault/idt.c")
    assert "outside solutions/01-segmentation/" in write(tmp_path, "# classic: x\n" + other).problem
    assert "outside" in write(tmp_path, "# classic: x\n" + HUNK.replace(SRC, f"solutions/{LAB}/../x.c")).problem


def test_a_stale_patch_is_broken_not_survived(tmp_path):
    stale = HUNK.replace("the kernel GDT and TSS, and", "words the solution does not hold")
    m = write(tmp_path, "# classic: x\n" + stale)
    run = mutants.grade_once(m, 30, [])
    assert run.status == "broken" and "does not apply" in run.reason


def results(tmp_path, rows, built=True):
    out = tmp_path / "r.json"
    out.write_text(json.dumps({"build": {LAB: [built, 0.1]}, "results": [
        {"lab": LAB, "name": f"test_{n}", "passed": ok, "message": "" if ok else f"{n} failed\nmore",
         "seed": 7} for n, ok in rows]}))
    return out


def test_verdicts_from_graded_results(tmp_path):
    m = write(tmp_path, "# classic: x\n" + HUNK)
    run = mutants.verdict(m, results(tmp_path, [("a", True), ("b", False)]), False, 1, "", 60)
    assert (run.status, run.killers, run.seeds, run.messages) == \
        ("killed", ["b"], {"a": 7, "b": 7}, {"b": "b failed"})
    assert mutants.verdict(m, results(tmp_path, [("a", True)]), False, 0, "", 60).status == "survived"
    assert mutants.verdict(m, results(tmp_path, []), False, 1, "", 60).status == "broken"
    assert mutants.verdict(m, tmp_path / "none.json", True, -9, "", 60).reason == "timeout"
    broken = mutants.verdict(m, results(tmp_path, [("a", False)], built=False), False, 1, "", 60)
    assert broken.status == "broken" and "does not build" in broken.reason
    m.build = "a missing declaration is the catch"
    assert mutants.verdict(m, results(tmp_path, [("a", False)], built=False), False, 1, "", 60).reason == "build"


def test_judging_runs(tmp_path):
    m = write(tmp_path, "# classic: x\n" + HUNK)
    k, s = mutants.Run("killed", "tests", ["a"]), mutants.Run("survived")
    assert mutants.judge(m, [k, k, k], 3) == ("killed", "")
    assert mutants.judge(m, [k, s, k], 3)[0] == "some seeds"
    assert "2 of 3" in mutants.judge(m, [k, s, k], 3)[1]
    assert mutants.judge(m, [s], 1)[0] == "survived"
    m.equivalent = "a comment"
    assert mutants.judge(m, [s], 1) == ("equivalent", "")
    assert "header is wrong" in mutants.judge(m, [k], 1)[1]


def test_the_sample_rotates_through_every_mutant(tmp_path):
    ms = [write(tmp_path, "# classic: x\n" + HUNK, f"{i:02}-m.patch") for i in range(5)]
    day = datetime.date(2026, 12, 4)
    seen = set()
    for d in range(3):
        pick = mutants.sample(ms, 2, day + datetime.timedelta(days=d))
        assert len(pick) == 2 and pick == mutants.sample(ms, 2, day + datetime.timedelta(days=d))
        seen |= {m.name for m in pick}
    assert seen == {m.name for m in ms}


def test_mutants_never_ship():
    """Neither a student release (dist.plan) nor the Gradescope zip holds grader/mutants/."""
    from course.kit import Kit
    spec = importlib.util.spec_from_file_location(  # "build" is also the site's module
        "gradescope_build", KIT / "grader" / "course" / "gradescope" / "build.py")
    gradescope = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gradescope)
    files = dist.snapshot(KIT)
    assert any(p.startswith("grader/mutants/") for p in files), "no mutants committed"
    labs = dist.all_labs(files)
    release = dist.plan(files, labs, labs)
    assert not [p for p in release if p.startswith("grader/mutants/")]
    kit = Kit(KIT)
    assert not [p for p in gradescope.shipped(kit, list(kit.labs)) if p.startswith("grader/mutants/")]


def test_the_leak_check_reads_a_patch():
    """A diff that removes a solution's function (each line marked `-`) holds its code;
    read as plain text, the markers would hide it."""
    files = {str(p.relative_to(KIT)): p.read_text() for top in ("solutions", "starter")
             for p in (KIT / top).rglob("*") if p.is_file() and p.suffix in (".c", ".h")}
    units = [u for u in leaks.solution_units(files, LAB) if u.name != "the whole file"]
    unit = max(units, key=lambda u: len(u.lines))
    src = files[unit.source].splitlines()
    first, last = unit.numbers[0], unit.numbers[-1]
    patch = (f"# classic: x\n--- a/{unit.source}\n+++ b/{unit.source}\n"
             f"@@ -{first},{last - first + 1} +{first - 1},0 @@\n"
             + "".join(f"-{line}\n" for line in src[first - 1:last]))
    assert leaks.find_leaks({"grader/mutants/x.patch": patch}, [unit]), f"{unit.name} not found"
    assert not leaks.find_leaks({"grader/mutants/x.txt": patch}, [unit])
