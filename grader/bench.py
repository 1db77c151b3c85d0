#!/usr/bin/python3
"""`make bench`: the kit's speed figures, so they can be tracked.

    bench.py [--check] [--runs N] [--jos DIR] [--variant starter|solution|both] [--lab L]...
        boot times; `make grade LAB=..` per lab from a clean tree (a fresh
        copy of the kit in a temporary folder, so the core compiles too), N
        runs each (default 3): median and slowest, for the starter (a
        student's run: every test fails) and the solution (SOLUTION=1), and
        the student's next run (one student file edited: the core and the
        earlier labs' objects are kept); with --check, `make check`. The
        anchor is MIT JOS lab 2's `make grade` (~1.9-2.7 s on a 2-core
        machine); with --jos DIR (a JOS lab 2 checkout, -Werror dropped) it is
        timed side by side, one JOS run before each kit run, and each median
        is given as a ratio of JOS's median. The load average is printed with
        the figures: other work on the machine skews them.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRADER = Path(__file__).resolve().parent
sys.path.insert(0, str(GRADER))
from harness import Machine, config  # noqa: E402

PY = "/usr/bin/python3"


def boot_time(via, runs=5):
    iso = config.KIT / "build" / "smoke" / "starter" / "kernel.iso"
    times = []
    for _ in range(runs):
        t = time.monotonic()
        with Machine("smoke", iso=iso, via=via) as m:
            m.wait_prompt()
            times.append(time.monotonic() - t)
    return statistics.median(times)


def timed(cmd, cwd=None):
    t = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    return time.monotonic() - t, r.returncode


def clean_tree(dest):
    """A copy of the kit without build/ or .git: what a fresh clone holds."""
    for part in ("Makefile", "course.toml", "labs", "starter", "solutions", "grader"):
        src = config.KIT / part
        if not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / part)


def student_file(kit, lab):
    """The first student file of `lab` (its lab.mk's LAB_STUDENT_SRCS), in kit's starter/."""
    for line in (kit / "labs" / lab / "lab.mk").read_text().splitlines():
        if line.startswith("LAB_STUDENT_SRCS"):
            return kit / "starter" / lab / line.split("=", 1)[1].split()[0]
    return None


def load():
    return "load %.2f %.2f %.2f" % os.getloadavg()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="also time make check")
    ap.add_argument("--runs", type=int, default=3, help="clean-tree grade runs per lab")
    ap.add_argument("--jos", help="a JOS lab 2 checkout to time side by side")
    ap.add_argument("--variant", choices=["starter", "solution", "both"], default="both")
    ap.add_argument("--lab", action="append", default=[], help="only these labs (default all)")
    args = ap.parse_args()
    subprocess.run(["make", "-s", "-C", str(config.KIT / "labs" / "smoke")], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"boot to lab> prompt, GRUB ISO (median of 5):  {boot_time('grub'):.2f}s")
    print(f"boot to lab> prompt, PVH -kernel (median of 5): {boot_time('pvh'):.2f}s")
    variants = ["starter", "solution"] if args.variant == "both" else [args.variant]
    labs = [l for l in config.labs() if not args.lab or any(l.startswith(x) for x in args.lab)]
    print(f"make grade LAB=<lab> from a clean tree, {args.runs} runs (median / slowest); "
          f"'next': the starter again after one student file changed ({load()}):")
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        kit = Path(tmp) / "kit"
        kit.mkdir()
        clean_tree(kit)
        jos = []
        for lab in labs:
            for variant in variants + (["next"] if "starter" in variants else []):
                times, bad = [], 0
                for _ in range(args.runs):
                    if args.jos:  # JOS's grade-lab2 cleans and rebuilds its kernel itself
                        jos.append(timed(["make", "grade"], cwd=args.jos)[0])
                    if variant == "next":  # after a starter run: the student edits a file
                        f = student_file(kit, lab)
                        f.write_text(f.read_text() + "\n")
                    else:
                        shutil.rmtree(kit / "build", ignore_errors=True)
                    cmd = ["make", "-s", "grade", f"LAB={lab}"] + (["SOLUTION=1"] if variant == "solution" else [])
                    secs, rc = timed(cmd, cwd=kit)
                    times.append(secs)
                    # the solution at full marks, the starter below (make grade exits 2 then)
                    bad += rc != 0 if variant == "solution" else rc == 0
                ratio = f"  ({statistics.median(times) / statistics.median(jos):.2f}x JOS)" if jos else ""
                print(f"  {lab:<18} {variant:<9} {statistics.median(times):.2f}s / {max(times):.2f}s{ratio}"
                      f"{'' if not bad else '  (unexpected score!)'}", flush=True)
        if jos:
            print(f"  {'JOS lab 2':<28} {statistics.median(jos):.2f}s / {max(jos):.2f}s "
                  f"({len(jos)} runs, interleaved; {load()})")
    if args.check:
        secs, rc = timed([PY, str(GRADER / "check.py")])
        print(f"make check: {secs:.1f}s{'' if rc == 0 else '  (FAILED)'} ({load()})")


if __name__ == "__main__":
    main()
