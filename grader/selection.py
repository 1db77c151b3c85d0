#!/usr/bin/python3
"""No flaky selection (`make check-selection`): every test of every lab, run
alone as `make grade LAB=<lab> TEST=<name>` runs it, passes on the solution,
run after run.

    selection.py [--lab L]... [--runs N] [--jobs N] [--test WORDS]

Each test (its function name: a parametrized test runs all its cases, and a
name that is part of another's, like translate_hole_pd, runs both) is graded
with `grade.py --lab L --solution --test NAME` N times (default 2), `jobs`
gradings at a time (default 2), fresh seeds each. Every run must select the
test and pass everything it selected. Prints a line per test that failed a run
(its runs, and the first line of each failure), a line per lab, and exits
non-zero on any failure. Too slow for `make check` (~1 s a grading, ~100
tests): its own target.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

GRADER = Path(__file__).resolve().parent
PY = "/usr/bin/python3"
TIMEOUT = 120  # seconds a grading may take before it is a failure


def lab_tests(lab):
    """The test functions of a lab, in file order: [name]."""
    names = []
    for f in sorted(GRADER.glob(f"test_{lab[:2]}_*.py")):
        names += re.findall(r"^def (test_\w+)\(", f.read_text(), re.M)
    return names


def grade_alone(lab, name, tmp):
    """One grading of `name` alone: (ok, what went wrong)."""
    fd, out = tempfile.mkstemp(prefix="kit-selection-", suffix=".json", dir=tmp)
    os.close(fd)
    env = {k: v for k, v in os.environ.items() if k not in ("KIT_SEED", "KIT_TRANSCRIPTS")}
    try:
        p = subprocess.run([PY, str(GRADER / "grade.py"), "--lab", lab, "--solution", "--test", name,
                            "--json", out, "--quiet", "--jobs", "1"], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=TIMEOUT)
        try:
            data = json.loads(Path(out).read_text())
        except (OSError, ValueError):
            return False, f"no results (exit {p.returncode}): {(p.stdout + p.stderr).strip()[-300:]}"
    except subprocess.TimeoutExpired:
        return False, f"grade.py took more than {TIMEOUT} s"
    finally:
        os.unlink(out)
    ran = [r for r in data["results"] if r["lab"] == lab]
    if not any(r["name"].split("[")[0] == name for r in ran):
        return False, f"TEST={name} selected no test of that name ({[r['name'] for r in ran]})"
    bad = [r for r in ran if not r["passed"]]
    if bad:
        return False, "; ".join(f"{r['name']} (seed {r['seed']}): "
                                + (r["message"] or "").strip().split("\n")[0][:200] for r in bad)
    return True, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", action="append", default=[])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--test", default="", help="only tests whose name contains this")
    args = ap.parse_args()
    sys.path.insert(0, str(GRADER))
    import mutants
    labs = mutants.resolve_labs(args.lab) if args.lab else __import__("harness").config.labs()
    todo = [(lab, name) for lab in labs for name in lab_tests(lab) if args.test in name]
    t0 = time.monotonic()
    # build each lab once, so the parallel gradings find it made
    for lab in labs:
        subprocess.run(["make", "-s", "-C", str(GRADER.parent / "labs" / lab), "SOLUTION=1"],
                       stdin=subprocess.DEVNULL, capture_output=True)
    tmp = tempfile.mkdtemp(prefix="kit-selection-")
    results = {t: [] for t in todo}
    # run after run: each test's runs are spread over the whole check
    plan = [t for _ in range(args.runs) for t in todo]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for t, r in zip(plan, pool.map(lambda t: grade_alone(*t, tmp), plan)):
            results[t].append(r)
    os.rmdir(tmp)
    failures = 0
    for lab in labs:
        tests = [t for t in todo if t[0] == lab]
        bad = [t for t in tests if not all(ok for ok, _ in results[t])]
        for t in bad:
            passed = sum(ok for ok, _ in results[t])
            print(f"FAIL {lab} TEST={t[1]}: passed {passed} of {len(results[t])} runs")
            for ok, why in results[t]:
                if not ok:
                    print(f"      {why}")
        failures += len(bad)
        print(f"{lab}: {len(tests) - len(bad)}/{len(tests)} tests pass alone in {args.runs} of {args.runs} runs")
    n = len(plan)
    secs = time.monotonic() - t0
    print(f"selection: {n} gradings in {secs:.1f}s ({secs / max(n, 1):.2f}s each, {args.jobs} at a time): "
          + ("FAILED" if failures else "every test passes alone"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
