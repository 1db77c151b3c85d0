#!/usr/bin/python3
"""`make bench`: the kit's speed figures, so they can be tracked.

    bench.py [--check]     boot times, `make grade LAB=..` per lab from a clean
                           build (solution), and with --check `make check`.
"""
import argparse
import shutil
import statistics
import subprocess
import sys
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


def timed(cmd):
    t = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t, r.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="also time make check")
    args = ap.parse_args()
    subprocess.run(["make", "-s", "-C", str(config.KIT / "labs" / "smoke")], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"boot to lab> prompt, GRUB ISO (median of 5):  {boot_time('grub'):.2f}s")
    print(f"boot to lab> prompt, PVH -kernel (median of 5): {boot_time('pvh'):.2f}s")
    for lab in config.labs():
        shutil.rmtree(config.KIT / "build" / lab / "solution", ignore_errors=True)
        secs, rc = timed([PY, str(GRADER / "grade.py"), "--quiet", "--solution", "--lab", lab])
        print(f"make grade LAB={lab} SOLUTION=1 (clean build): {secs:.2f}s"
              f"{'' if rc == 0 else '  (not full marks!)'}")
    if args.check:
        secs, rc = timed([PY, str(GRADER / "check.py")])
        print(f"make check: {secs:.1f}s{'' if rc == 0 else '  (FAILED)'}")


if __name__ == "__main__":
    main()
