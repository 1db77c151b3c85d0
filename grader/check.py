#!/usr/bin/python3
"""The kit's self-check (`make check`): proves the grader can fail and can pass.

    check.py [--lab L]... [--cheats sample|all|none]

For every lab: each test must FAIL on the starter and PASS on the solution.
Also runs the harness's own tests (grader/selftest) against the smoke kernel,
then the cheat corpus (grader/cheats.py) built from the solution runs' serial
transcripts: every cheat must score zero; then the attacks on the grading
pipeline (grader/attacks.py): each must score zero with a clear verdict,
bounded time and memory. `sample` (the default) runs every
cheat against the last x86 lab (whose grading boots the fewest machines: 2,
against Lab 1's 12) and the replaying and triple-faulting ones against every
lab; `all` runs the whole corpus against
every lab (`make check-cheats`). Last, --mutants K (default 1) mutants of
each lab from the mutation suite (grader/mutants.py, a choice that rotates
with the day): each must be killed. And every example of the lab handouts
(grader/examples.py) runs against the solutions just built, with the TA
guide's (grader/examples_ta.py): a table per handout of examples run, not
run (with reasons) and failing closes the report; a failing one is a defect.
Exits non-zero on any defect.
"""
import argparse
import datetime
from concurrent.futures import ThreadPoolExecutor
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRADER = Path(__file__).resolve().parent
sys.path.insert(0, str(GRADER))
from harness import config  # noqa: E402

PY = "/usr/bin/python3"
MUTANT_SAMPLE = 1  # mutants a lab that make check grades (make mutants grades all)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", action="append", default=[])
    ap.add_argument("--cheats", choices=["sample", "all", "none"], default="sample")
    ap.add_argument("--no-examples", action="store_true", help="leave out the handouts' examples")
    ap.add_argument("--mutants", type=int, default=MUTANT_SAMPLE, metavar="K",
                    help="grade K mutants per lab (grader/mutants.py, rotating by day; 0: none)")
    args = ap.parse_args()
    t0 = time.monotonic()
    config.export_make_jobs()  # for every build below
    tmp = Path(tempfile.mkdtemp(prefix="kit-check-"))
    transcripts = tmp / "transcripts"
    extra = sum((["--lab", l] for l in args.lab), [])
    procs = {}
    for variant in ("starter", "solution"):
        out = tmp / f"{variant}.json"
        # every earlier lab from its solution: a starter's tests must fail on its own stubs
        cmd = [PY, str(GRADER / "grade.py"), "--quiet", "--json", str(out), "--jobs", "1",
               "--published", "all"] + extra
        env = dict(os.environ)
        if variant == "solution":
            cmd.append("--solution")
            env["KIT_TRANSCRIPTS"] = str(transcripts)
        procs[variant] = (subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env), out)
    selftest = None
    if not extra:
        # the longest branch: two xdist workers, a test file each at a time (a
        # file's module fixtures are shared by its tests), fill its waits
        selftest = subprocess.Popen([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                                     "--dist", "loadfile", str(GRADER / "selftest")], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
    results = {}
    for variant, (p, out) in procs.items():
        p.wait()
        results[variant] = json.loads(out.read_text())
    # The solution runs' transcripts are in: the cheat corpus runs now, while
    # the self-tests may still be running.
    cheat_labs = sorted({r["lab"] for r in results["solution"]["results"]})
    cheat_pool = ThreadPoolExecutor(max_workers=1)
    cheat_defects = cheat_pool.submit(check_cheats, transcripts, cheat_labs, args.cheats) \
        if args.cheats != "none" else None
    # the handouts' examples against the solutions just built, two handouts at a time
    import examples
    example_pool = ThreadPoolExecutor(max_workers=2)
    t_examples = time.monotonic()
    example_tasks = [] if args.no_examples else \
        examples.submit(example_pool, labs=args.lab or None, nice=True)
    examples_done = []  # when each task ended
    for _, f in example_tasks:
        f.add_done_callback(lambda _: examples_done.append(time.monotonic()))
    # then a sample of the mutation suite, in the same thread: the self-tests
    # are the longest branch, so the two share the second core
    mutant_defects = cheat_pool.submit(check_mutants, args.lab, args.mutants) if args.mutants else None

    defects = []
    labs = sorted({r["lab"] for v in results.values() for r in v["results"]} |
                  ({l for l in config.labs()} if not extra else set()))
    print(f"{'lab':<20} {'tests':>5} {'starter fails':>14} {'solution passes':>16}")
    for lab in labs:
        st = [r for r in results["starter"]["results"] if r["lab"] == lab]
        so = [r for r in results["solution"]["results"] if r["lab"] == lab]
        st_fail = sum(not r["passed"] for r in st)
        so_pass = sum(r["passed"] for r in so)
        print(f"{lab:<20} {len(so):>5} {st_fail:>8}/{len(st):<5} {so_pass:>10}/{len(so):<5}")
        if not so:
            defects.append(f"{lab}: no tests")
        for r in st:
            if r["passed"]:
                defects.append(f"{lab}: {r['name']} PASSES on the starter (a test that cannot fail)")
        for r in so:
            if not r["passed"]:
                defects.append(f"{lab}: {r['name']} FAILS on the solution:\n      "
                               + r["message"].replace("\n", "\n      ")[:1500])
        for v in ("starter", "solution"):
            ok, _ = results[v]["build"].get(lab, (True, 0))
            if not ok and v == "solution":
                defects.append(f"{lab}: the solution does not build")
    if selftest:
        text = selftest.communicate()[0]
        last = text.strip().splitlines()[-1] if text.strip() else "no output"
        print(f"harness self-tests: {last}")
        if selftest.returncode != 0:
            defects.append("harness self-tests failed:\n" + text[-3000:])
    if cheat_defects:
        defects += cheat_defects.result()
    if mutant_defects:
        defects += mutant_defects.result()
    records = examples.collect(example_tasks)
    example_pool.shutdown()
    if example_tasks:
        examples.table(records)
        print(f"handout examples: {max(examples_done) - t_examples:.1f}s, alongside the rest")
    defects += [f"handout example {r['handout']}:{r['line']} ({r['kind']}) no longer holds: {r['reason']}"
                for r in records if r["status"] == "failing"]
    for d in defects:
        print(f"DEFECT {d}")
    print(f"make check: {'FAILED' if defects else 'passed'} in {time.monotonic() - t0:.1f}s")
    sys.exit(1 if defects else 0)


def check_cheats(transcripts, labs, scope):
    import cheats
    t = time.monotonic()
    labs = cheats.x86_labs(labs)
    if scope == "all":
        plan = [(lab, mode) for lab in labs for mode in cheats.MODES]
    else:  # every cheat against the last lab, whose grading boots the fewest
        # machines (2; Lab 1's boots 12: the sample took 6 CPU-seconds more); the
        # replaying and triple-faulting ones against every lab (a build error's
        # verdict is the same in every lab: the attacks' sample and the starters'
        # runs cover it)
        every_lab = {"replay", "triple"}
        plan = [(lab, mode) for mode in cheats.MODES for lab in labs
                if mode in every_lab or lab == labs[-1]]
    # the sample runs beside the self-tests, every core busy: a grade run of one
    # process (no pytest-xdist workers, each a Python of its own) costs ~1.3
    # CPU-seconds less; `all` (make check-cheats) runs alone and keeps them
    rows, left = cheats.run(transcripts, plan, workers=2 if scope == "all" else 1)
    defects = [f"cheat {lab}/{mode} not caught: {'; '.join(p)}" for lab, mode, p, _, _ in rows if p]
    if left:
        defects.append(f"QEMU processes outlived the cheat corpus: {left}")
    caught = sum(not p for _, _, p, _, _ in rows)
    print(f"cheat corpus: {caught}/{len(rows)} caught ({scope}, {time.monotonic() - t:.1f}s)")
    return defects + check_attacks(scope)


def check_mutants(labs, k):
    """k mutants of each lab (of `labs`, else all), the day's choice: each must be killed."""
    import io
    import mutants
    t = time.monotonic()
    today = datetime.date.today()
    chosen = mutants.sample(mutants.load(mutants.resolve_labs(labs)), k, today)
    if not chosen:
        return []
    runs, left = mutants.run_all(chosen, 1, 2, mutants.TIMEOUT)
    table = io.StringIO()
    failures, _ = mutants.report(chosen, runs, 1, table)
    killed = sum(all(r.status == "killed" for r in runs[m.path]) and bool(runs[m.path]) for m in chosen)
    print(f"mutant sample: {killed}/{len(chosen)} killed ({k} a lab, the choice of {today}: "
          f"{' '.join(m.lab[:2] + '/' + m.name[:2] for m in chosen)}; {time.monotonic() - t:.1f}s)")
    if failures:
        print(table.getvalue().strip("\n"))
    return [f"mutant {f}" for f in failures] + [f"QEMU or build left behind: {l}" for l in left]


def check_attacks(scope):
    """The attacks on the pipeline (attacks.py): the sample, or all of them."""
    import attacks
    t = time.monotonic()
    names = [c.name for c in attacks.CASES if c.sample or scope == "all"]
    rows = attacks.run(names)
    if scope == "all":
        attacks.print_table(rows)
    held = sum(not p for _, _, p in rows)
    print(f"attacks on the pipeline: {held}/{len(rows)} held ({scope}, {time.monotonic() - t:.1f}s)")
    return [f"attack {c.name} ({c.what}): {'; '.join(p)}" for c, _, p in rows if p]


if __name__ == "__main__":
    main()
