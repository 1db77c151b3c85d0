"""The course file's rules in Gradescope's results.json (grader/course/gradescope/run.py's
apply_course): per-test status, tests hidden until the deadline, lateness from
submission_metadata.json and the late policy's penalty, said to the student.
The autograder itself is run end to end in test_batch.py."""
import copy
import json
import subprocess
import sys
import zipfile
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "grader"))
sys.path.insert(0, str(KIT / "grader" / "course" / "gradescope"))

from course import config  # noqa: E402
import run  # noqa: E402  (grader/course/gradescope/run.py)

LABS = config.kit_labs(KIT)
LAB = "01-segmentation"
COURSE = f"""
[late]
grace_minutes = 30
penalty_per_day = 25
cap = 60
late_days = 1

[labs.{LAB}]
deadline = 2026-10-02T12:00:00Z
hidden = ["test_secret"]
"""


def results():
    return {"score": 30, "output": "Graded.", "tests": [
        {"name": f"{LAB}: test_open", "score": 20, "max_score": 20, "visibility": "visible"},
        {"name": f"{LAB}: test_secret", "score": 10, "max_score": 10, "visibility": "visible"},
        {"name": f"{LAB}: test_failing", "score": 0, "max_score": 5, "visibility": "visible"}]}


def meta(created, due=None):
    return {"created_at": created, "assignment": {"due_date": due} if due else {}}


def test_status_and_hidden_tests():
    res = run.apply_course(results(), config.parse(COURSE, LABS), [LAB], {})
    by = {t["name"].split(": ")[1]: t for t in res["tests"]}
    assert [by[n]["status"] for n in ("test_open", "test_secret", "test_failing")] == ["passed", "passed", "failed"]
    assert by["test_secret"]["visibility"] == "after_due_date"
    assert by["test_open"]["visibility"] == by["test_failing"]["visibility"] == "visible"
    assert res["score"] == 30 and res["output"] == "Graded."   # no submission time: no lateness


def test_on_time_within_grace():
    res = run.apply_course(results(), config.parse(COURSE, LABS), [LAB],
                           meta("2026-10-02T12:29:00.000000+00:00"))
    assert res["score"] == 30
    assert "on time" in res["output"]


def test_late_submission_penalised_as_the_policy_says():
    """3 days late (past the grace), 1 late day: 2 days at 25% = 50% off 30 points."""
    res = run.apply_course(results(), config.parse(COURSE, LABS), [LAB],
                           meta("2026-10-04T14:00:00+02:00"))   # 2 days 0 h past, + grace -> 2 days
    assert res["score"] == 30 * (1 - 0.25)
    res = run.apply_course(results(), config.parse(COURSE, LABS), [LAB], meta("2026-10-05T01:00:00Z"))
    assert res["score"] == 15.0
    assert "3 day(s) late" in res["output"] and "penalty 50%" in res["output"]
    assert "15 of 30 points" in res["output"]
    res = run.apply_course(results(), config.parse(COURSE, LABS), [LAB], meta("2026-10-12T01:00:00Z"))
    assert res["score"] == 30 * 0.4   # the cap


def test_the_assignments_due_date_when_the_course_file_has_none():
    course = config.parse("[late]\npenalty_per_day = 10\n", LABS)
    res = run.apply_course(results(), course, [LAB],
                           meta("2026-10-03T00:00:01Z", due="2026-10-02T00:00:00.000000-07:00"))
    assert res["score"] == 27.0 and "1 day(s) late" in res["output"]


def test_unreadable_metadata_changes_nothing():
    before = results()
    res = run.apply_course(copy.deepcopy(before), config.parse(COURSE, LABS), [LAB], meta("yesterday"))
    assert res["score"] == before["score"] and res["output"] == before["output"]


BUILD = ["/usr/bin/python3", str(KIT / "grader" / "course" / "gradescope" / "build.py")]


def arm_labs():
    """The labs whose build uses the ARM toolchain (their Makefile names it)."""
    return {l for l in LABS if (KIT / "labs" / l / "Makefile").is_file()
            and "arm-none-eabi" in (KIT / "labs" / l / "Makefile").read_text()}


def setup_of(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read("setup.sh").decode(), json_of(zf)


def json_of(zf):
    return json.loads(zf.read("grader/course/gradescope/config.json"))


def test_one_zip_per_lab_and_setup_installs_each_labs_tools(tmp_path):
    """--per-lab writes DIR/<lab>.zip grading that lab alone; a zip grading an ARM lab
    installs the ARM compiler and QEMU, one grading only x86 labs does not."""
    arm = sorted(arm_labs())
    assert arm, "no lab builds with arm-none-eabi: this test checks nothing"
    x86 = next(l for l in LABS if l not in arm)
    r = subprocess.run(BUILD + ["--per-lab", str(tmp_path), "--lab", f"{x86} {arm[0]}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{x86}.zip", f"{arm[0]}.zip"])
    setup, cfg = setup_of(tmp_path / f"{arm[0]}.zip")
    assert cfg["labs"] == [arm[0]]
    assert "gcc-arm-none-eabi" in setup and "qemu-system-arm" in setup
    setup, cfg = setup_of(tmp_path / f"{x86}.zip")
    assert cfg["labs"] == [x86] and "arm-none-eabi" not in setup


def test_an_all_labs_zip_installs_the_tools_of_every_lab_it_grades(tmp_path):
    out = tmp_path / "all.zip"
    r = subprocess.run(BUILD + ["--out", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    setup, cfg = setup_of(out)
    assert set(arm_labs()) <= set(cfg["labs"])
    assert "gcc-arm-none-eabi" in setup and "qemu-system-arm" in setup
