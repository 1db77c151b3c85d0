#!/usr/bin/python3
"""Build Gradescope's autograder zip: setup.sh, run_autograder and the kit.

    build.py --out build/gradescope.zip [--lab L]... [--timeout SECONDS] [--published LABS]
    build.py --per-lab build/gradescope [--lab L]...   one zip per lab: DIR/<lab>.zip

One assignment per lab is the usual setup (--lab 03, or --per-lab: every lab
the course file releases, each zip on its own, so one lab's build error never
costs another lab's points). A zip's setup.sh installs the tools of every lab
it grades (LAB_PACKAGES: Lab 6 needs the ARM compiler and QEMU). The zip holds the
solutions of the earlier labs the graded labs link (LAB_DEPS) that the course
publishes (course.toml's `published`, or --published), never the solution of
a lab it grades (a student file could #include it) nor an unpublished one;
its course.toml publishes exactly those, so the build rules in the zip link
what `make grade` links. Without --lab it grades every lab, and so ships no
solution.
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
from course import config  # noqa: E402
from course.kit import NOT_GRADED, Kit  # noqa: E402

# What grading needs on Gradescope's Ubuntu image (the README's packages, less gdb;
# bubblewrap for the build sandbox, which degrades to its limits where it cannot run).
PACKAGES = ["qemu-system-x86", "grub-pc-bin", "grub-common", "genisoimage", "gcc", "make",
            "binutils", "python3-pytest", "python3-pexpect", "python3-pytest-xdist", "bubblewrap"]
# Packages a lab needs beyond PACKAGES (a zip grading it installs them).
LAB_PACKAGES = {"06-mpu": ["gcc-arm-none-eabi", "qemu-system-arm"]}
# Not in the zip: what a grading copy leaves out (course/kit.py), the build
# folder, and the files the zip writes itself.
NOT_SHIPPED = NOT_GRADED + ("build/", "setup.sh", "run_autograder", "grader/course/gradescope/config.json",
                            "compile_commands.json", config.FILE)
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # the same kit makes the same zip

SETUP_SH = """#!/bin/bash
# Gradescope runs this once, as root, when it builds the autograder image:
# the Debian/Ubuntu packages the kit's grader needs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q {packages}
"""


def solutions(kit, labs, published):
    """The solutions a zip grading `labs` ships: those the labs link (LAB_DEPS)
    that are published and in the kit, never a graded lab's own."""
    deps = {d for l in labs for d in kit.labs[l]["deps"]}
    return sorted(l for l in (deps & set(published)) - set(labs) if (kit.root / "solutions" / l).is_dir())


def shipped(kit, sols):
    """The kit files the zip holds (relative paths), with the solutions sols."""
    out = []
    for f in kit.files:
        if f.startswith(NOT_SHIPPED) or f == config.FILE:
            continue
        if f.startswith("solutions/") and f.split("/")[1] not in sols:
            continue
        out.append(f)
    return out


def packages(labs):
    """What setup.sh installs for a zip grading labs."""
    return PACKAGES + [p for l in labs for p in LAB_PACKAGES.get(l, []) if p not in PACKAGES]


def add(zf, name, data, mode):
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build(out, labs, timeout, published=None):
    """Write the zip; published None: course.toml's list. Returns (labs, files, solutions)."""
    kit = Kit(KIT)
    labs = [kit.resolve_lab(l) for l in labs] or config.load(KIT).released_labs(list(kit.labs))
    if published is None:
        published = config.load(KIT).published
    sols = solutions(kit, labs, [kit.resolve_lab(l) for l in published])
    files = shipped(kit, sols)
    course = kit.root / config.FILE
    course_text = config.with_published(course.read_text() if course.is_file() else None, sols)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        add(zf, "setup.sh", SETUP_SH.format(packages=" ".join(packages(labs))), 0o755)
        add(zf, "run_autograder", (HERE / "run_autograder").read_bytes(), 0o755)
        settings = {"labs": labs, "timeout": timeout or 100 * len(labs)}
        add(zf, "grader/course/gradescope/config.json", json.dumps(settings, indent=1) + "\n", 0o644)
        add(zf, config.FILE, course_text, 0o644)
        for f in files:
            mode = 0o755 if (kit.root / f).stat().st_mode & stat.S_IXUSR else 0o644
            add(zf, f, (kit.root / f).read_bytes(), mode)
    tmp.replace(out)
    return labs, files, sols


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(KIT / "build" / "gradescope.zip"))
    ap.add_argument("--per-lab", metavar="DIR", help="one zip per lab (--lab's, default the course "
                    "file's released labs) in DIR/<lab>.zip")
    ap.add_argument("--lab", action="append", default=[], help="lab to grade (repeatable; default all)")
    ap.add_argument("--timeout", type=float, default=0, help="grading bound in seconds (default 100 per lab)")
    ap.add_argument("--published", metavar="LABS",
                    help="the published solutions, instead of course.toml's list (names or numbers)")
    args = ap.parse_args()
    published = None if args.published is None else args.published.replace(",", " ").split()
    try:
        if args.per_lab:
            kit = Kit(KIT)
            wanted = [kit.resolve_lab(l) for l in " ".join(args.lab).split()]
            wanted = wanted or config.load(KIT).released_labs(list(kit.labs))
            jobs = [(Path(args.per_lab).resolve() / f"{lab}.zip", [lab]) for lab in wanted]
        else:
            jobs = [(Path(args.out).resolve(), " ".join(args.lab).split())]
        for out, lab_list in jobs:
            labs, files, sols = build(out, lab_list, args.timeout, published)
            print(f"gradescope: {out} ({out.stat().st_size >> 10} KiB, {len(files)} kit files): "
                  f"grades {' '.join(labs)}; ships the published solutions of {' '.join(sols) or 'no lab'}")
    except config.CourseError as e:
        sys.exit(f"gradescope: {e}")
    print("gradescope: upload it as the assignment's autograder (Ubuntu image); "
          "students submit their starter/<lab>/ files or their repository")


if __name__ == "__main__":
    main()
