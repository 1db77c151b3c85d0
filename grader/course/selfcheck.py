#!/usr/bin/python3
"""`make check` in a student release: is this copy of the kit ready to work in?

A release ships this file as grader/check.py. It checks, and says what to do
about anything that fails:
  1. the tools: the compiler, QEMU, GRUB's image tools, the grader's Python modules;
  2. every released lab builds (your files as they are now);
  3. the grader works: each lab's tests run on the starter as released (taken
     from the release's first commit, not your files) and fail there, as they
     must on stubs; a test passing on a stub would mean a broken copy.
Your own score is `make grade`; this never grades your work.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
PY = "/usr/bin/python3"
TOOLS = {"gcc": "gcc", "ld": "binutils", "make": "make", "qemu-system-x86_64": "qemu-system-x86",
         "grub-mkimage": "grub-common", "genisoimage": "genisoimage", "git": "git"}
ARM_TOOLS = {"arm-none-eabi-gcc": "gcc-arm-none-eabi", "qemu-system-arm": "qemu-system-arm"}
MODULES = {"pytest": "python3-pytest", "pexpect": "python3-pexpect"}


def labs():
    return sorted(p.name for p in (KIT / "labs").glob("[0-9][0-9]-*") if p.is_dir())


def needs_arm(lab):
    mk = KIT / "labs" / lab / "Makefile"
    return mk.is_file() and "arm-none-eabi" in mk.read_text(errors="replace")


def check_tools(released):
    wanted = dict(TOOLS)
    if any(needs_arm(l) for l in released):
        wanted.update(ARM_TOOLS)
    missing = sorted({pkg for cmd, pkg in wanted.items() if not shutil.which(cmd)})
    for mod, pkg in MODULES.items():
        if subprocess.run([PY, "-c", f"import {mod}"], capture_output=True).returncode:
            missing.append(pkg)
    return [f"missing tools: sudo apt-get install -y {' '.join(sorted(set(missing)))}"] if missing else []


def check_builds(released):
    problems = []
    for lab in released:
        r = subprocess.run(["make", "-s", "-C", str(KIT), "build", f"LAB={lab}"], capture_output=True,
                           text=True, timeout=300)
        if r.returncode:
            lines = (r.stdout + r.stderr).strip().splitlines()
            first = next((l for l in lines if "error" in l.lower()), lines[-1] if lines else "(no output)")
            problems.append(f"{lab} does not build: {first}  (see: make build LAB={lab})")
    return problems


def pristine_starter(dest):
    """The release's starter/ as the course staff committed it, in dest; False without git."""
    root = subprocess.run(["git", "-C", str(KIT), "rev-list", "--max-parents=0", "HEAD"],
                          capture_output=True, text=True)
    if root.returncode or not root.stdout.split():
        return False
    tar = subprocess.run(["git", "-C", str(KIT), "archive", "--format=tar", root.stdout.split()[-1],
                          "starter"], capture_output=True)
    if tar.returncode:
        return False
    with tarfile.open(fileobj=BytesIO(tar.stdout)) as tf:
        members = [m for m in tf if (m.isfile() or m.isdir()) and m.name.startswith("starter/")
                   and ".." not in m.name.split("/")]   # git archive's own output: plain files
        tf.extractall(dest, members=members)
    return True


def check_stubs(released):
    problems, tmp = [], Path(tempfile.mkdtemp(prefix="kit-selfcheck-"))
    try:
        if not pristine_starter(tmp):
            return [], ["not a git clone: the grader's check on the released starter was skipped"]
        # one grade run for every released lab (their builds run side by side; one
        # pytest start instead of one a lab), in one process (--jobs 1)
        out = tmp / "grade.json"
        subprocess.run([PY, str(KIT / "grader" / "grade.py"), "--submission", str(tmp), "--json", str(out),
                        "--quiet", "--jobs", "1"] + [w for lab in released for w in ("--lab", lab)],
                       capture_output=True, timeout=600,
                       env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
        graded = json.loads(out.read_text())["results"] if out.is_file() else None
        for lab in released:
            if graded is None:
                problems.append(f"{lab}: the grader did not run (try: make grade LAB={lab})")
                continue
            results = [r for r in graded if r.get("lab") == lab]
            passed = [r["name"] for r in results if r.get("passed")]
            if not results:
                problems.append(f"{lab}: the grader found no test")
            elif len(passed) == len(results):
                problems.append(f"{lab}: every test passes on the released stubs: this copy is broken")
            else:
                print(f"check: {lab}: {len(results) - len(passed)} of {len(results)} tests fail on the "
                      f"released stubs, as they should")
        return problems, []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    released = labs()
    print(f"check: labs in this release: {' '.join(released)}")
    problems = check_tools(released)
    if problems:
        print("\n".join(f"check: {p}" for p in problems))
        return 1
    print("check: tools present")
    problems = check_builds(released)
    if not problems:
        print(f"check: every lab builds ({len(released)})")
    stub_problems, notes = check_stubs(released)
    problems += stub_problems
    for n in notes:
        print(f"check: note: {n}")
    for p in problems:
        print(f"check: FAILED: {p}")
    print("check: " + ("ready: grade your work with `make grade LAB=<lab>`" if not problems
                       else f"{len(problems)} problem(s) above"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
