"""`make update` in a student release (grader/course/update.py): fetch and merge
the course staff's publication whatever the student's git configuration says,
and a conflict in a student's file reported plainly. Small git repositories
stand in for a release (the whole release is made in test_dist.py)."""
import os
import subprocess
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
UPDATE = KIT / "grader" / "course" / "update.py"
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
       "GIT_AUTHOR_NAME": "S", "GIT_AUTHOR_EMAIL": "s@example.edu", "GIT_COMMITTER_NAME": "S",
       "GIT_COMMITTER_EMAIL": "s@example.edu", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd, *args):
    r = subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def commit(repo, files, message):
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def update(clone):
    return subprocess.run(["/usr/bin/python3", str(clone / "grader/course/update.py")], cwd=clone,
                          env=ENV, capture_output=True, text=True, timeout=60)


@pytest.fixture
def release(tmp_path):
    """A staff repository (a release) and a student's clone with a commit of its own."""
    staff = tmp_path / "staff"
    staff.mkdir()
    git(staff, "init", "-q", "-b", "main")
    commit(staff, {".release.json": "{}\n", "grader/course/update.py": UPDATE.read_text(),
                   "starter/02/idt.c": "int a;\nint b;\n", "labs/02/lab.mk": "x\n"}, "release")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(staff), str(clone))
    return staff, clone


@pytest.mark.parametrize("setting", [None, ("pull.rebase", "true"), ("merge.ff", "only")])
def test_update_merges_divergent_work_whatever_the_config(release, setting):
    """Both sides committed (the case where a bare `git pull` stops on git 2.39)."""
    staff, clone = release
    if setting:
        git(clone, "config", *setting)
    commit(clone, {"starter/02/idt.c": "int a;\nint b; /* mine */\n"}, "my work")
    commit(staff, {"solutions/01/gdt.c": "int g;\n"}, "publish 01")
    r = update(clone)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "merged" in r.stdout
    assert (clone / "solutions/01/gdt.c").is_file()
    assert "mine" in (clone / "starter/02/idt.c").read_text()
    assert len(git(clone, "log", "--format=%P", "-1").split()) == 2   # a merge commit, not a rebase
    assert "already up to date" in update(clone).stdout


def test_update_reports_a_conflict_plainly(release):
    staff, clone = release
    commit(clone, {"labs/02/lab.mk": "mine\n"}, "my change")
    commit(staff, {"labs/02/lab.mk": "theirs\n"}, "a fix")
    r = update(clone)
    assert r.returncode == 1
    assert "git could not merge these files" in r.stdout and "    labs/02/lab.mk" in r.stdout
    assert "git merge --abort" in r.stdout and "Traceback" not in r.stderr
    again = update(clone)
    assert again.returncode == 1 and "unfinished" in again.stdout


def test_update_asks_for_a_commit_first(release):
    staff, clone = release
    (clone / "starter/02/idt.c").write_text("uncommitted\n")
    r = update(clone)
    assert r.returncode == 1 and "commit your work first" in r.stdout and "starter/02/idt.c" in r.stdout


def test_update_in_the_kit_says_it_is_not_a_release():
    if (KIT / ".release.json").exists():
        pytest.skip("this copy is a release")
    r = subprocess.run(["/usr/bin/python3", str(UPDATE)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not a student release" in r.stdout
