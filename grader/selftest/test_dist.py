"""Student releases (`make dist`, `make publish`): a release made here, cloned,
built and graded as a student would, then a solution published into it and merged."""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "grader"))

from course import config  # noqa: E402
from course import dist  # noqa: E402
from course import leaks  # noqa: E402

UPTO, PUBLISH = "03", "01"
STUDENT = {"GIT_AUTHOR_NAME": "A Student", "GIT_AUTHOR_EMAIL": "student@example.edu",
           "GIT_COMMITTER_NAME": "A Student", "GIT_COMMITTER_EMAIL": "student@example.edu"}


def clean_env():
    """The environment of a student's shell: nothing from the make or grade run around us."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KIT_", "MAKE", "PYTEST_")) and k not in
           ("MFLAGS", "SOLUTION", "SUBMISSION", "LAB", "TEST", "V", "GRADESCOPE")}
    env.update(STUDENT)
    return env


def run(cmd, cwd, timeout=120):
    return subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=timeout)


def includes(clone, lab):
    """Where lab's build takes each lab's student files from (rules.mk's INCLUDES)."""
    r = run(["make", "-s", "-C", f"labs/{lab}", "print-INCLUDES"], clone)
    assert r.returncode == 0, r.stderr
    return {m.group(2): m.group(1) for m in re.finditer(r"/(starter|solutions)/(\d\d-[\w-]+)", r.stdout)}


def score(output):
    m = re.findall(r"score (\d+)/(\d+)", output)
    assert m, f"no score line in make grade's output:\n{output[-3000:]}"
    return int(m[-1][0]), int(m[-1][1])


class Grading:
    """`make grade LAB=..` started in a clone now; result() waits for it (once)."""

    def __init__(self, clone, lab):
        self.proc = subprocess.Popen(["make", "grade", f"LAB={lab}"], cwd=clone, env=clean_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.out = None

    def result(self):
        if self.out is None:
            try:
                self.out = self.proc.communicate(timeout=180)[0]
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.out = self.proc.communicate()[0] + "\n(timed out)"
        return self.proc.returncode, self.out


@pytest.fixture(scope="module")
def rel(tmp_path_factory):
    """A release (UPTO=03, PUBLISH=01) and two students' clones: one with the starters,
    one who finished lab 02 (the kit's solution copied into starter/). Both start
    `make grade LAB=02` at once, so the two gradings run side by side."""
    tmp = tmp_path_factory.mktemp("dist")
    files = dist.snapshot(KIT)
    labs = dist.all_labs(files)
    root, tgz, released, published, _ = dist.release(KIT, UPTO, PUBLISH, tmp / "out")
    clones = {}
    for name in ("student", "finished"):
        clones[name] = tmp / name
        r = run(["git", "clone", "-q", str(root), str(clones[name])], tmp)
        assert r.returncode == 0, r.stderr
    lab = released[1]
    src = KIT / "solutions" / lab
    for f in src.rglob("*"):
        if f.is_file():
            dest = clones["finished"] / "starter" / lab / f.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    state = {"tmp": tmp, "root": root, "tgz": tgz, "clone": clones["student"],
             "finished": clones["finished"], "kit": files, "labs": labs,
             "released": released, "published": published,
             "grade_starter": Grading(clones["student"], lab),
             "grade_finished": Grading(clones["finished"], lab)}
    yield state
    for g in (state["grade_starter"], state["grade_finished"]):
        g.result()


def test_release_holds_released_labs_and_published_solutions_only(rel):
    """Labs, starters and handouts up to UPTO, solutions up to PUBLISH, no instructor material."""
    clone, labs = rel["clone"], rel["labs"]
    upto = labs[:labs.index(dist.resolve(UPTO, labs, "UPTO")) + 1]
    pub = labs[:labs.index(dist.resolve(PUBLISH, labs, "PUBLISH")) + 1]
    assert rel["released"] == upto and rel["published"] == pub
    present = lambda top: sorted(p.name for p in (clone / top).iterdir() if p.is_dir())  # noqa: E731
    assert present("starter") == upto
    assert present("solutions") == pub
    assert [l for l in present("labs") if re.match(r"\d\d-", l)] == upto
    for absent in ("labs/cheat", "labs/smoke", "grader/selftest", "grader/cheats.py", "grader/course/leaks.py",
                   "handouts/instructor-guide.md", "handouts/releasing.md", ".ci"):
        assert not (clone / absent).exists(), f"{absent} is in a student release"
    for lab in upto:
        assert (clone / "handouts" / f"{lab}.md").exists() or not (KIT / "handouts" / f"{lab}.md").exists()
        assert list((clone / "grader").glob(f"test_{lab[:2]}_*.py")), f"no tests of {lab}"
    assert not [p for p in (clone / "grader").glob("test_*.py") if p.name[5:7] > upto[-1][:2]]
    man = json.loads((clone / dist.MANIFEST).read_text())
    assert man["labs"] == upto and man["published"] == pub
    assert config.load(clone).published == pub, "the release's course.toml must publish what it holds"
    log = run(["git", "log", "--oneline"], clone).stdout.strip().splitlines()
    assert len(log) == 1, f"a release is one commit, got {log}"
    with tarfile.open(rel["tgz"]) as tar:
        names = {m.name.split("/", 1)[1] for m in tar if m.isfile()}
    tracked = set(run(["git", "ls-files"], clone).stdout.split())
    assert names == tracked, f"tarball and repository differ: {sorted(names ^ tracked)[:10]}"


def test_release_readme_names_what_it_ships(rel):
    """The release's README is its own: the released labs only, links to files it
    ships, the two commands, make update; no instructor guide."""
    clone = rel["clone"]
    text = (clone / "README.md").read_text()
    assert text != (KIT / "README.md").read_text()
    named = set(re.findall(r"`(\d\d-[\w-]+)`", text))
    assert named == set(rel["released"]), named
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links and all((clone / l).is_file() for l in links), [l for l in links if not (clone / l).is_file()]
    commands = re.search(r"## The two commands\n\n```sh\n(.*?)```", text, re.S).group(1).splitlines()
    assert [c.split("#")[0].split()[:2] for c in commands] == [["make", "grade"], ["make", "check"]]
    assert "make update" in text and "instructor-guide" not in text


def test_release_site_builder_imports_what_the_release_ships(rel):
    """`make handouts` works in a release: the site builder's imports (the course
    file's reader above all) ship as code, not as an instructor tool's stub."""
    r = run([sys.executable, "-c", "import sys; sys.path.insert(0, 'handouts/site'); import build; "
             "print(build.course_config.load(build.KIT).published)"], rel["clone"])
    assert r.returncode == 0 and r.stdout.split() and "instructor tool" not in r.stderr, r.stdout + r.stderr


def test_release_make_check_is_the_students_self_check(rel):
    """make check in a release checks the tools, builds every released lab and sees
    every lab's tests fail on the released stubs, and passes."""
    rel["grade_starter"].result()      # one grading at a time in the clone
    r = run(["make", "check"], rel["clone"], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tools present" in r.stdout and f"every lab builds ({len(rel['released'])})" in r.stdout
    for lab in rel["released"]:
        assert re.search(rf"{lab}: \d+ of \d+ tests fail on the released stubs", r.stdout), r.stdout


def test_release_unpublished_solution_is_said_plainly(rel):
    lab = next(l for l in rel["released"] if l not in rel["published"])
    r = run(["make", "grade", f"LAB={lab[:2]}", "SOLUTION=1"], rel["clone"], timeout=60)
    assert r.returncode != 0
    assert f"the solution of {lab} is not published" in r.stdout and "No rule" not in r.stdout + r.stderr


def test_release_has_no_unpublished_solution_and_the_check_catches_one(rel):
    """No file of the release holds unpublished solution code; planted copies are found."""
    clone, files = rel["clone"], rel["kit"]
    tree = {str(p.relative_to(clone)): (0o644, p.read_bytes()) for p in clone.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(clone).parts and "build" not in p.relative_to(clone).parts}
    assert not dist.check_leaks(tree, files, rel["published"])
    unpublished = [l for l in rel["released"] if l not in rel["published"]]
    for lab in unpublished:
        for p in files:
            if p.startswith(f"solutions/{lab}/"):
                twin = p.replace("solutions/", "starter/", 1)
                assert twin not in files or tree.get(twin, (0, b""))[1] != files[p][1]
    lab = unpublished[-1]
    sol = sorted(p for p in files if p.startswith(f"solutions/{lab}/") and p.endswith(".c"))
    units = leaks.solution_units(dist._texts(files), lab)
    biggest = max(units, key=lambda u: len(u.lines) if u.name != "the whole file" else 0)
    code = leaks.strip_comments(files[biggest.source][1].decode(), biggest.source).splitlines()
    body = "\n".join("    " + code[i - 1].strip() for i in biggest.numbers)
    planted = dict(tree)
    planted["labs/kernel/helpers.c"] = (0o644, files[sol[0]][1])          # a whole file
    planted["handouts/ta-guide.md"] = (0o644, tree["handouts/ta-guide.md"][1]
                                       + f"\n```c\n{body}\n```\n".encode())  # one function, reindented
    found = {(l.path, l.unit.source) for l in dist.check_leaks(planted, files, rel["published"])}
    assert ("labs/kernel/helpers.c", sol[0]) in found, "a copied solution file was not caught"
    assert ("handouts/ta-guide.md", biggest.source) in found, \
        f"{biggest.source}: {biggest.name} pasted into a handout was not caught"


def test_release_grades_starter_below_full_marks(rel):
    """In a clone, `make grade` builds the starter and scores it below full marks: its
    tests fail (a stub's line names the tests it stops)."""
    code, out = rel["grade_starter"].result()
    got, total = score(out)
    assert code != 0 and total > 0 and got < total, out[-2000:]
    assert "build error" not in out and re.search(r" FAIL |^  stub \S+.*: stops ", out, re.M), out[-2000:]
    assert includes(rel["clone"], rel["released"][1])[rel["published"][0]] == "solutions"


def test_release_builds_on_published_solutions_and_the_students_own_work(rel):
    """A student who completes lab 02 gets full marks on top of the published 01 solution,
    and lab 03 links that student's own 02 (unpublished)."""
    done = rel["finished"]
    lab, nxt = rel["released"][1], rel["released"][2]
    inc = includes(done, lab)
    assert inc[rel["published"][0]] == "solutions" and inc[lab] == "starter", inc
    assert includes(done, nxt)[lab] == "starter", "an unpublished lab must link the student's own files"
    code, out = rel["grade_finished"].result()
    got, total = score(out)
    assert code == 0 and got == total, f"a finished lab {lab} scored {got}/{total}:\n{out[-3000:]}"


def test_publish_is_one_commit_students_merge(rel):
    """Publishing 02 adds solutions/02 as one commit; a student's clone with its own
    commits merges it cleanly, and lab 03 then builds on solutions 01 and 02."""
    rel["grade_starter"].result()      # the clone is not touched while it is being graded
    clone, root = rel["clone"], rel["root"]
    lab, nxt = rel["released"][1], rel["released"][2]
    mine = sorted((clone / "starter" / nxt).glob("*.c"))[0]
    mine.write_text(mine.read_text() + "\n/* the student's own work */\n")
    assert run(["git", "commit", "-qam", "my work on the next lab"], clone).returncode == 0
    what, changed, removed, kept, tgz = dist.publish(KIT, lab[:2], root, out=rel["tmp"])
    assert any(p.startswith(f"solutions/{lab}/") for p in changed) and not removed
    assert not any(p.startswith("starter/") for p in changed), "publish must leave starters alone"
    assert len(run(["git", "log", "--oneline"], root).stdout.splitlines()) == 2
    with tarfile.open(tgz) as tar:
        assert any(f"/solutions/{lab}/" in m.name for m in tar)
    r = run(["make", "-s", "update"], clone)   # git's defaults: no pull.rebase set
    assert r.returncode == 0, f"the student's clone cannot merge the publish:\n{r.stdout}{r.stderr}"
    assert "merged" in r.stdout, r.stdout
    assert "the student's own work" in mine.read_text()
    assert config.load(clone).published == rel["published"] + [lab], "publish must add the lab to course.toml"
    inc = includes(clone, nxt)
    assert inc[rel["published"][0]] == "solutions" and inc[lab] == "solutions", inc
    r = run(["make", "-s", "-C", f"labs/{nxt}"], clone)
    assert r.returncode == 0, f"lab {nxt} does not build after the publish:\n{r.stdout}{r.stderr}"
    with pytest.raises(dist.DistError, match="already published"):
        dist.publish(KIT, lab, root)


def test_release_publishes_what_course_toml_publishes(tmp_path, monkeypatch):
    """Without PUBLISH, a release ships the released labs' solutions that the
    kit's course.toml publishes, and its own course.toml says exactly that."""
    files = dist.snapshot(KIT)
    labs = dist.all_labs(files)
    mode, text = files.get(config.FILE, (0o644, b"name = \"course\"\n"))
    files[config.FILE] = (mode, config.with_published(text.decode(), [labs[0], labs[3]]).encode())
    monkeypatch.setattr(dist, "snapshot", lambda kit=KIT, rev="HEAD": files)
    root, _, released, published, _ = dist.release(KIT, "03", "", tmp_path / "out")
    assert released == labs[:3] and published == [labs[0]], published  # labs[3] is not released
    assert config.load(root).published == [labs[0]]
    assert sorted(p.name for p in (root / "solutions").iterdir()) == [labs[0]]
