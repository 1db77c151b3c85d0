"""Paths and names are data, never shell: values given to make that a shell
would run are refused before anything runs (labs/values.mk), and a path with a
space (or, through grade.py, quotes and $()) works where the kit takes one."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
GRADER = KIT / "grader"
PY = "/usr/bin/python3"
LAB = "01-segmentation"
FILE = "gdt.c"
ONE_TEST = "gdtr"  # selects test_gdtr_holds_the_kernel_gdt alone

# each variable, with a target that passes it on to a command
TARGETS = {"SUBMISSION": "grade", "SUBMISSIONS": "grade-class", "DIST": "publish",
           "GRADESCOPE": "grade", "OUT": "grade-class", "LAB": "grade", "TEST": "grade",
           "PARAMS": "qemu", "GDB_SOCK": "qemu-gdb", "UPTO": "dist", "PUBLISH": "dist",
           "PUBLISHED": "gradescope", "V": "build"}


def hostile(marker):
    """Values that create marker if any part of them reaches a shell unquoted."""
    return [f"x';touch {marker};'", f"y$(touch {marker})", f"z`touch {marker}`",
            f'q";touch {marker};"', f"n\ntouch {marker}", f"b\\';touch {marker};'",
            f"$(shell touch {marker})"]


def clean_env(tmp, **extra):
    """A user's shell: nothing from the make or grade run around this test."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KIT_", "MAKE", "PYTEST_")) and k not in
           ("MFLAGS", "SOLUTION", "SUBMISSION", "SUBMISSIONS", "LAB", "TEST", "V", "GRADESCOPE",
            "OUT", "DIST", "PARAMS", "GDB_SOCK", "PUBLISHED")}
    env["TMPDIR"] = str(tmp)
    env.update(extra)
    return env


def make(args, tmp, timeout=120, cwd=KIT, **env):
    return subprocess.run(["make", "-s", "-C", str(cwd), *args], env=clean_env(tmp, **env),
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("var", sorted(TARGETS))
def test_make_refuses_values_a_shell_would_run(tmp_path, var):
    """Quotes, $(), backquotes, backslashes and newlines in a variable are refused
    with its name, and nothing in them runs."""
    marker = tmp_path / "PWNED"
    for value in hostile(marker):
        extra = [] if var == "LAB" else ["LAB=01"]
        r = make([TARGETS[var], f"{var}={value}"] + extra, tmp_path)
        assert r.returncode != 0, (var, value, r.stdout)
        assert f"{var}: the value holds" in r.stderr, (var, value, r.stderr)
        assert not marker.exists(), f"{var}={value!r} ran a command"


def test_environment_values_are_checked_too(tmp_path):
    """A hostile TMPDIR (the default GDB_SOCK is built from it) is refused too."""
    marker = tmp_path / "PWNED"
    r = make(["gdb", "LAB=01"], tmp_path, TMPDIR=f"/tmp/$(shell touch {marker})")
    assert r.returncode != 0 and "TMPDIR: the value holds $" in r.stderr, r.stderr
    assert not marker.exists()


def test_lab_build_rules_refuse_hostile_and_spaced_submissions(tmp_path):
    """`make -C labs/<lab>` refuses what values.mk refuses, and a path with a space
    (make names files by words) with a message that says what takes one."""
    marker = tmp_path / "PWNED"
    lab = KIT / "labs" / LAB
    r = make(["print-VARIANT", f"SUBMISSION={tmp_path}/x';touch {marker};'"], tmp_path, cwd=lab)
    assert r.returncode != 0 and "SUBMISSION: the value holds '" in r.stderr, r.stderr
    r = make(["print-VARIANT", f"SUBMISSION={tmp_path}/a b"], tmp_path, cwd=lab)
    assert r.returncode != 0 and "make grade SUBMISSION=" in r.stderr, r.stderr
    assert not marker.exists()


def write_submission(folder):
    dest = folder / "starter" / LAB / FILE
    dest.parent.mkdir(parents=True)
    dest.write_bytes((KIT / "solutions" / LAB / FILE).read_bytes())
    return folder


def test_make_grade_takes_paths_with_spaces(tmp_path):
    """`make grade SUBMISSION="my work" GRADESCOPE="gs out/results.json"` grades
    the folder and writes the results where it was told."""
    sub = write_submission(tmp_path / "my work")
    results = tmp_path / "gs out" / "results.json"
    results.parent.mkdir()
    r = make(["grade", "LAB=01", f"TEST={ONE_TEST}", f"SUBMISSION={sub}",
              f"GRADESCOPE={results}"], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert re.search(r"score (\d+)/\1\b", r.stdout), r.stdout[-2000:]
    tests = __import__("json").loads(results.read_text())["tests"]
    assert len(tests) == 1 and tests[0]["score"] == tests[0]["max_score"] > 0


def test_grade_py_takes_any_submission_path(tmp_path):
    """grade.py (no make in between) grades a folder whose name holds quotes, $(),
    backquotes and a space, and runs nothing in it."""
    marker = tmp_path / "PWNED"
    sub = write_submission(tmp_path / f"it's \"$(touch {marker})\" `touch {marker}`")
    r = subprocess.run([PY, str(GRADER / "grade.py"), "--lab", LAB, "--test", ONE_TEST,
                        "--submission", str(sub)], env=clean_env(tmp_path), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert not marker.exists()


def test_class_and_release_paths_with_spaces(tmp_path):
    """grade-class takes SUBMISSIONS and OUT with spaces (an empty class: a gradebook
    of no one); publish names a DIST with spaces intact in its refusal."""
    folder = tmp_path / "the class"
    folder.mkdir()
    out = tmp_path / "grades out"
    r = make(["grade-class", f"SUBMISSIONS={folder}", f"OUT={out}", "LAB=01"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "gradebook.csv").read_text().startswith("student,status")
    r = make(["publish", "LAB=02", f"DIST={tmp_path}/no such release"], tmp_path)
    assert r.returncode != 0 and f"{tmp_path}/no such release is not a release" in r.stderr, r.stderr


SHELL_CALLS = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|\[\s*[\"'](?:ba)?sh[\"']\s*,\s*[\"']-c[\"']")


def test_no_python_of_the_grader_runs_a_shell():
    """No Python file of the grader (its self-tests aside: their commands are
    constants) hands a command line to a shell: subprocess calls take argument lists."""
    found = []
    for path in sorted(GRADER.rglob("*.py")):
        if GRADER / "selftest" in path.parents:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if SHELL_CALLS.search(line):
                found.append(f"{path.relative_to(KIT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_build_folders_of_vanished_submissions_are_removed(tmp_path):
    """Each build folder of a submission names its source; grading a submission removes
    the folders (and the link of a path with a space) of submissions whose folder is
    gone, and keeps those whose folder is still there."""
    build = tmp_path / "build"
    subs = [write_submission(tmp_path / name) for name in ("gone", "gone too", "kept", "now")]

    def grade(sub):
        r = subprocess.run([PY, str(GRADER / "grade.py"), "--lab", LAB, "--test", ONE_TEST,
                            "--submission", str(sub)], env=clean_env(tmp_path, KIT_BUILD=str(build)),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        folder, = [p.parent for p in build.glob(f"{LAB}/submission-*/source") if p.read_text() == str(sub)]
        return folder

    folders = [grade(sub) for sub in subs[:3]]
    link, = (build / "submissions").iterdir()
    assert os.readlink(link) == str(subs[1])
    for sub in subs[:2]:
        shutil.rmtree(sub)
    grade(subs[3])
    assert [f.exists() for f in folders] == [False, False, True]
    assert not link.is_symlink()
