#!/usr/bin/python3
"""`make update` in a student release: fetch the course staff's publication
(a published solution, a newly released lab, a fix) and merge it into your work.

It runs `git fetch` and then `git merge --no-edit --ff` of the branch your
repository tracks, whatever your git configuration says about pull.rebase or
merge.ff, so it works the same for every student. Your own files are never
overwritten: git merges them; when the staff changed a line you changed too,
git stops with a conflict, and this says which of your files to fix and how.
"""
import os
import subprocess
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
MANIFEST = ".release.json"


def git(*args, check=False):
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return subprocess.run(["git", "-C", str(KIT), *args], capture_output=True, text=True, env=env,
                          check=check)


def say(*lines):
    print("\n".join(f"update: {l}" if l else "" for l in lines))


def upstream():
    """The branch to merge: the current branch's upstream, else origin's HEAD."""
    r = git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    if r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip()
    r = git("rev-parse", "--abbrev-ref", "origin/HEAD")
    return r.stdout.strip() if r.returncode == 0 else None


def conflicted():
    return [l for l in git("diff", "--name-only", "--diff-filter=U").stdout.splitlines() if l]


def main():
    if not (KIT / MANIFEST).is_file():
        say("this is the kit itself, not a student release: nothing to update from "
            "(make publish / make dist are the instructor's side)")
        return 2
    if not (KIT / ".git").exists():
        say("this copy is not a git clone: download the course's new tarball instead, or "
            "clone the course repository and copy your starter/ files into it")
        return 2
    if conflicted():
        say("a merge is still unfinished; resolve the files git lists below first:", "",
            *(f"    {p}" for p in conflicted()))
        return 1
    dirty = [l[3:] for l in git("status", "--porcelain", "--untracked-files=no").stdout.splitlines()]
    if dirty:
        say("commit your work first (git merges commits, not changed files):",
            *(f"    {p}" for p in dirty[:10]), "",
            "    git add -A starter && git commit -m 'my work so far'   then: make update")
        return 1
    r = git("fetch", "--quiet")
    if r.returncode != 0:
        say("git fetch failed, nothing changed:", r.stderr.strip())
        return 1
    branch = upstream()
    if not branch:
        say("your branch tracks no remote branch: run `git branch -u origin/main` "
            "(or the course's branch) once, then make update")
        return 1
    before = git("rev-parse", "HEAD").stdout.strip()
    r = git("-c", "merge.ff=true", "merge", "--no-edit", "--ff", branch)
    if r.returncode != 0:
        files = conflicted()
        if not files:
            say(f"git merge {branch} failed, nothing changed:", r.stderr.strip() or r.stdout.strip())
            return 1
        say("the course staff changed lines you changed too; git could not merge these files:",
            *(f"    {p}" for p in files), "",
            "In each, keep the lines you want between the <<<<<<< / ======= / >>>>>>> markers",
            "and delete the markers, then:",
            "    git add " + " ".join(files) + " && git commit --no-edit",
            "(or give up this update: git merge --abort)")
        return 1
    after = git("rev-parse", "HEAD").stdout.strip()
    if after == before:
        say("already up to date")
    else:
        changed = git("diff", "--stat", "--stat-width=72", before, after).stdout.rstrip()
        say(f"merged {branch}:", changed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
