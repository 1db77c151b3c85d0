#!/usr/bin/python3
"""Build Gradescope's autograder zip: setup.sh, run_autograder and the kit.

    build.py --out build/gradescope.zip [--lab L]... [--timeout SECONDS]

One assignment per lab is the usual setup (--lab 03). The zip never holds the
solution of a lab it grades (a student file could #include it); it holds the
published solutions of the earlier labs those labs link (LAB_DEPS), as
`make grade` does. Without --lab it grades every lab, and so ships no solution.
"""
import argparse
import json
import stat
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT = HERE.parents[2]
sys.path.insert(0, str(KIT / "grader"))
from course import batch  # noqa: E402

# What grading needs on Gradescope's Ubuntu image (the README's packages, less gdb).
PACKAGES = ["qemu-system-x86", "grub-pc-bin", "grub-common", "genisoimage", "gcc", "make",
            "binutils", "python3-pytest", "python3-pexpect", "python3-pytest-xdist"]
NOT_SHIPPED = ("handouts/", "build/", "grader/selftest/", "setup.sh", "run_autograder",
               "grader/course/gradescope/config.json", "compile_commands.json")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # the same kit makes the same zip

SETUP_SH = """#!/bin/bash
# Gradescope runs this once, as root, when it builds the autograder image:
# the Debian/Ubuntu packages the kit's grader needs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q {packages}
"""


def shipped(kit, labs):
    """The kit files the zip holds, relative paths."""
    deps = {d for l in labs for d in kit.labs[l]["deps"]} - set(labs)
    out = []
    for f in kit.files:
        if f.startswith(NOT_SHIPPED):
            continue
        if f.startswith("solutions/") and f.split("/")[1] not in deps:
            continue
        out.append(f)
    return out


def add(zf, name, data, mode):
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build(out, labs, timeout):
    kit = batch.Kit(KIT)
    labs = [kit.resolve_lab(l) for l in labs] or list(kit.labs)
    files = shipped(kit, labs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        add(zf, "setup.sh", SETUP_SH.format(packages=" ".join(PACKAGES)), 0o755)
        add(zf, "run_autograder", (HERE / "run_autograder").read_bytes(), 0o755)
        config = {"labs": labs, "timeout": timeout or 100 * len(labs)}
        add(zf, "grader/course/gradescope/config.json", json.dumps(config, indent=1) + "\n", 0o644)
        for f in files:
            mode = 0o755 if (kit.root / f).stat().st_mode & stat.S_IXUSR else 0o644
            add(zf, f, (kit.root / f).read_bytes(), mode)
    tmp.replace(out)
    return labs, files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(KIT / "build" / "gradescope.zip"))
    ap.add_argument("--lab", action="append", default=[], help="lab to grade (repeatable; default all)")
    ap.add_argument("--timeout", type=float, default=0, help="grading bound in seconds (default 100 per lab)")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    labs, files = build(out, args.lab, args.timeout)
    sols = sorted({f.split("/")[1] for f in files if f.startswith("solutions/")})
    print(f"gradescope: {out} ({out.stat().st_size >> 10} KiB, {len(files)} kit files): "
          f"grades {' '.join(labs)}; ships the solutions of {' '.join(sols) or 'no lab'}")
    print("gradescope: upload it as the assignment's autograder (Ubuntu image); "
          "students submit their starter/<lab>/ files or their repository")


if __name__ == "__main__":
    main()
