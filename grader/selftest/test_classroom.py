"""GitHub Classroom (issue 16): the workflow a release carries, its score table,
and the local runner (grader/course/classroom/actions.py) that runs it here.

`make check` checks the parser, the summary, what a release ships, and runs
the workflow in a release's clone on the starter (one grade run, ~3 s) and
on a broken grader; `make check-course` (KIT_COURSE_SLOW=1) also runs it on
a student's finished lab 01."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "grader"))
sys.path.insert(0, str(KIT / "grader" / "course" / "classroom"))

import actions  # noqa: E402
import summary  # noqa: E402
from course import dist  # noqa: E402

WORKFLOW = (KIT / "grader" / "course" / "classroom" / "grade.yml").read_text()
PY = "/usr/bin/python3"
slow = pytest.mark.skipif(not os.environ.get("KIT_COURSE_SLOW"), reason="slow: make check-course runs it")


# ---- the parser ---------------------------------------------------------------------

def test_workflow_parses_as_pyyaml_reads_it():
    yaml = pytest.importorskip("yaml")
    theirs = yaml.safe_load(WORKFLOW)
    theirs = {"on" if k is True else k: v for k, v in theirs.items()}   # YAML 1.1 reads on: as true
    assert actions.parse(WORKFLOW) == theirs


def test_workflow_is_one_job_of_the_steps_the_runner_knows():
    name, job = actions.validate(actions.parse(WORKFLOW))
    kinds = [("run" if "run" in s else s["uses"].split("@")[0]) for s in job["steps"]]
    assert kinds == ["actions/checkout", "run", "run", "actions/upload-artifact"]
    assert job["steps"][-1]["if"] == "always()"   # the results are kept when grading broke too


BAD = {   # a change to the workflow -> what the runner must refuse
    "anchor": ("    runs-on: ubuntu-24.04", "    runs-on: &os ubuntu-24.04"),
    "alias": ("\nname: grade\n", "\nname: *grade\n"),
    "folded block": ("        run: |\n          mkdir", "        run: >\n          mkdir"),
    "flow mapping": ("        with:\n          name: grade", "        with: {name: grade}\n          x: grade"),
    "tab": ("    timeout-minutes: 30", "\ttimeout-minutes: 30"),
    "expression": ("\nname: grade\n", "\nname: ${{ github.actor }}\n"),
    "duplicate key": ("    timeout-minutes: 30", "    timeout-minutes: 30\n    timeout-minutes: 20"),
    "document marker": ("\nname: grade\n", "\n---\nname: grade\n"),
    "null": ("    timeout-minutes: 30", "    timeout-minutes: ~"),
    "yes as a value": ("          if-no-files-found: error", "          if-no-files-found: yes"),
    "escape in quotes": ("          name: grade", '          name: "gr\\tade"'),
    "unknown job key": ("    timeout-minutes: 30", "    timeout-minutes: 30\n    container: debian"),
    "unknown step key": ("        run: make setup", "        continue-on-error: true\n        run: make setup"),
    "unknown action": ("actions/checkout@v4", "actions/cache@v4"),
    "if other than always()": ("        if: always()", "        if: failure()"),
    "another shell": ("        shell: bash", "        shell: sh"),
    "mac runner": ("ubuntu-24.04", "macos-14"),
    "run and uses": ("        uses: actions/checkout@v4", "        uses: actions/checkout@v4\n        run: ls"),
    "unknown artifact input": ("          if-no-files-found: error", "          include-hidden-files: true"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_runner_refuses_what_it_does_not_understand(case):
    old, new = BAD[case]
    assert WORKFLOW.count(old) == 1, f"{case}: the workflow changed: {old!r} is not in it once"
    with pytest.raises(actions.WorkflowError):
        actions.validate(actions.parse(WORKFLOW.replace(old, new)))


# ---- the score table ----------------------------------------------------------------

LABS = ["01-segmentation", "02-page-fault"]


def results(passed=(True, False, True), message="wrong selector\nLast serial lines:\n  | x"):
    rows = [{"name": f"test_{i}", "lab": LABS[i % 2], "points": 3 + i, "passed": p,
             "message": "" if p else message, "seconds": 0.1} for i, p in enumerate(passed)]
    return {"variant": "starter", "results": rows, "build": {lab: [True, 0.5] for lab in LABS}}


def test_summary_table_holds_every_lab_its_points_and_each_failure(tmp_path):
    f = tmp_path / "grade.json"
    f.write_text(json.dumps(results(message="| <script>x</script> [link](http://e.invalid) *b*\nnext")))
    text = summary.markdown(summary.read_results(f, 1, LABS))
    assert "## Grade: 8/12 points" in text   # tests 0 and 2 (3 + 5 points) of 3 + 4 + 5
    assert "| `01-segmentation` | ok | 2 of 2 | 8/8 |" in text
    assert "| `02-page-fault` | ok | 0 of 1 | 0/4 |" in text
    assert "| **total** | | 2 of 3 | **8/12** |" in text
    row = next(l for l in text.splitlines() if l.startswith("| `test_1`"))
    assert row.count(" | ") == 2 and "<script>" not in row and "[link](" not in row and "next" not in row
    assert "&lt;script&gt;" in row and "\\[link\\]" in row and "\\*b\\*" in row


@pytest.mark.parametrize("case", ["status 2", "no file", "a lab missing", "status disagrees", "no tests"])
def test_summary_says_grading_broke_and_writes_no_score(tmp_path, case):
    f, status, data = tmp_path / "grade.json", 1, results()
    if case == "status 2":
        status = 2
    elif case == "a lab missing":
        del data["build"][LABS[1]]
    elif case == "status disagrees":
        status = 0
    elif case == "no tests":
        data["results"] = [r for r in data["results"] if r["lab"] != LABS[1]]
    if case != "no file":
        f.write_text(json.dumps(data))
    with pytest.raises(summary.Broken):
        summary.read_results(f, status, LABS)


def test_summary_command_fails_when_grading_broke_and_keeps_outputs_unchanged(tmp_path):
    out, step = tmp_path / "output", tmp_path / "step-summary"
    out.write_text("before=1\n")
    env = dict(os.environ, GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(out), GITHUB_STEP_SUMMARY=str(step))
    r = subprocess.run([PY, str(KIT / "grader/course/classroom/summary.py"), str(tmp_path / "none.json"),
                        "--status", "1"], env=env, capture_output=True, text=True)
    assert r.returncode == 1
    assert re.search(r"(?m)^::error title=Grading did not finish::", r.stdout)
    assert "## Grading did not finish" in step.read_text()
    assert out.read_text() == "before=1\n"


# ---- what a release ships -------------------------------------------------------------

def test_release_ships_the_workflow_what_it_runs_and_says_so():
    files = dist.snapshot(KIT)
    labs = dist.all_labs(files)
    content = dist.plan(files, labs[:3], labs[:1])
    assert content[".github/workflows/grade.yml"][1] == files["grader/course/classroom/grade.yml"][1]
    _, job = actions.validate(actions.parse(content[".github/workflows/grade.yml"][1].decode()))
    for step in job["steps"]:
        for path in re.findall(r"grader/[\w/.-]+\.py", step.get("run", "")):
            assert path in content and b"instructor tool" not in content[path][1], path
    assert "grader/course/classroom/actions.py" not in content   # the runner is the instructor's
    readme = content["README.md"][1].decode()
    assert "`.github/workflows/grade.yml`" in readme and "red run" in readme


# ---- the workflow, run here on a release ---------------------------------------------------

@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return actions.release_clone(tmp_path_factory.mktemp("classroom"), "03", "")


def lab_rows(text):
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"(?m)^\| `(\d\d-[\w-]+)` \| \S+ \| \d+ of \d+ \| (\d+)/(\d+) \|$", text)}


def expected_rows(clone):
    data = json.loads((clone / "build/classroom/grade.json").read_text())
    rows = {}
    for r in data["results"]:
        got, top = rows.get(r["lab"], (0, 0))
        rows[r["lab"]] = (got + (r["points"] if r["passed"] else 0), top + r["points"])
    return rows


def test_workflow_passes_on_a_release_and_its_summary_holds_the_score_table(clone):
    ok, steps, text = actions.run(WORKFLOW, clone)
    assert ok, "\n".join(f"{s.name}: {s.status} {s.note}\n{s.output[-2000:]}" for s in steps)
    assert [s.status for s in steps] == ["not run", "success", "success", "not run"]
    assert "setup: all packages present" in steps[1].output   # a no-op here
    rows = lab_rows(text)
    assert sorted(rows) == ["01-segmentation", "02-page-fault", "03-cr3"]
    assert rows == expected_rows(clone)
    earned, total = map(sum, zip(*rows.values()))
    assert earned < total and f"**{earned}/{total}**" in text   # the starter's stubs fail
    assert steps[2].outputs == {"score": str(earned), "max": str(total)}
    assert ("notice", "Score", f"{earned}/{total} points") in steps[2].annotations
    assert "build/classroom/grade.json" in steps[3].note


@slow
def test_workflow_summary_follows_the_students_work(clone):
    lab = "01-segmentation"
    for f in (KIT / "solutions" / lab).rglob("*"):
        if f.is_file():
            shutil.copy(f, clone / "starter" / lab / f.relative_to(KIT / "solutions" / lab))
    subprocess.run(["git", "-c", "user.name=S", "-c", "user.email=s@example.edu", "commit", "-qam", "lab 1"],
                   cwd=clone, check=True)
    ok, steps, text = actions.run(WORKFLOW, clone)
    assert ok
    rows = lab_rows(text)
    assert rows == expected_rows(clone)
    assert rows[lab][0] == rows[lab][1] > 0 and rows["03-cr3"][0] < rows["03-cr3"][1]


def test_workflow_fails_only_when_grading_broke(clone):
    (clone / "grader" / "grade.py").write_text("import sys\nsys.exit('grade: broken copy')\n")
    shutil.rmtree(clone / "build" / "classroom", ignore_errors=True)
    ok, steps, text = actions.run(WORKFLOW, clone)
    assert not ok
    assert [s.status for s in steps] == ["not run", "success", "failure", "not run"]   # results kept
    assert "## Grading did not finish" in text and "Grade:" not in text
    assert steps[2].outputs == {} and steps[2].annotations[0][:2] == ("error", "Grading did not finish")
    assert steps[3].note == "would upload build/classroom/summary.md"
