"""A class of 30 mixed submissions graded with a roster and a course file whose
first deadline has passed (issue 16): the gradebook's late days and penalties,
one LMS row per roster student, documents ignored, 30 x 5 labs in under 3 min.

Slow (about 2 minutes of grading): skipped by `make check`, run by
`make check-course` (KIT_COURSE_SLOW=1)."""
import csv
import io
import os
import shutil
import subprocess
import tarfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
PY = "/usr/bin/python3"
LABS = ["01-segmentation", "02-page-fault", "03-cr3", "04-page-walk", "05-map-to"]
DUE = datetime(2026, 10, 2, 22, 0, tzinfo=timezone.utc)
DAY = 86400
COURSE = f"""
[late]
grace_minutes = 30
penalty_per_day = 10
cap = 50
late_days = 2
[labs.01]
deadline = {DUE.isoformat()}
"""

pytestmark = pytest.mark.skipif(not os.environ.get("KIT_COURSE_SLOW"),
                                reason="slow: make check-course runs it")


def solution_files(labs=LABS):
    """{starter/<lab>/path: bytes} of the kit's solutions: a finished student's files."""
    out = {}
    for lab in labs:
        root = KIT / "solutions" / lab
        for f in root.rglob("*"):
            if f.is_file() and f.suffix in (".c", ".h", ".S"):
                out[f"starter/{lab}/{f.relative_to(root)}"] = f.read_bytes()
    return out


def starter_files():
    out = {}
    for lab in LABS:
        root = KIT / "starter" / lab
        for f in root.rglob("*"):
            if f.is_file():
                out[f"starter/{lab}/{f.relative_to(root)}"] = f.read_bytes()
    return out


def tarball(path, files, when):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    os.utime(path, (when, when))


def zipped(path, files, when):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    os.utime(path, (when, when))


def folder(path, files, when):
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
        os.utime(path / name, (when, when))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course-class")
    cls = tmp / "class"
    cls.mkdir()
    due = DUE.timestamp()
    full, stubs = solution_files(), starter_files()
    late = {}   # id -> days late
    for i in range(12):                      # finished, tarballs; 4 late
        days = {0: 0, 1: 0, 2: 1, 3: 3, 4: 5}.get(i % 5 if i < 5 else 0, 0)
        sid = f"s{i:02d}"
        tarball(cls / f"{sid}.tar.gz", full, due - 3600 + days * DAY)
        late[sid] = days
    for i in range(12, 18):                  # finished, zips, on time
        zipped(cls / f"s{i:02d}.zip", full, due - DAY)
    for i in range(18, 24):                  # the starter as a folder
        folder(cls / f"s{i:02d}", stubs, due - 7200)
    for i in range(24, 30):                  # bare upload of lab 01's files, 1 day late (past the grace)
        (cls / f"s{i:02d}").mkdir()
        folder(cls / f"s{i:02d}", {k.split("/", 2)[2]: v for k, v in solution_files(LABS[:1]).items()},
               due + 3600)
        late[f"s{i:02d}"] = 1
    (cls / "notes.txt").write_text("s03 asked for an extension\n")
    roster = tmp / "roster.csv"
    roster.write_text("id,name,email,lms_id\n" + "".join(
        f"s{i:02d},Student {i},s{i:02d}@example.edu,{1000 + i}\n" for i in range(32)))   # 2 never submit
    course = tmp / "course.toml"
    course.write_text(COURSE)
    t0 = time.monotonic()
    r = subprocess.run(["make", "-s", "-C", str(KIT), "grade-class", f"SUBMISSIONS={cls}", f"OUT={tmp / 'out'}",
                        f"ROSTER={roster}", f"COURSE={course}", "LAB=" + " ".join(l[:2] for l in LABS)],
                       capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - t0
    rows = {row["student"]: row for row in csv.DictReader(open(tmp / "out" / "gradebook.csv"))}
    return {"run": r, "seconds": seconds, "rows": rows, "late": late, "out": tmp / "out"}


def test_the_class_grades_in_under_three_minutes(graded):
    print(graded["run"].stdout[-3000:], f"({graded['seconds']:.1f}s)")
    assert graded["run"].returncode == 0, graded["run"].stdout[-3000:] + graded["run"].stderr
    assert graded["seconds"] < 180


def test_every_roster_student_has_a_row(graded):
    rows = graded["rows"]
    assert len(rows) == 32
    assert rows["s30"]["status"] == rows["s31"]["status"] == "missing"
    canvas = list(csv.DictReader(open(graded["out"] / "canvas.csv")))
    assert [c["SIS User ID"] for c in canvas] == [f"s{i:02d}" for i in range(32)]
    assert "notes.txt" in (graded["out"] / "run.log").read_text()
    assert "notes.txt" not in rows


def test_late_days_and_penalties_follow_the_policy(graded):
    """Lab 01 only has a deadline: 2 late days, then 10% a day, at most 50%."""
    rows, lab = graded["rows"], LABS[0]
    full = int(rows["s12"][lab])
    assert full > 0 and rows["s12"]["status"] == "ok"
    for sid, days in graded["late"].items():
        r = rows[sid]
        assert int(r[f"{lab} days late"]) == days, (sid, r)
        used = min(days, 2)
        assert int(r["late days used"]) == used
        penalty = min(50, 10 * (days - used))
        assert float(r[f"{lab} final"]) == pytest.approx(int(r[lab]) * (1 - penalty / 100)), (sid, r)
    assert float(rows["s03"][f"{lab} final"]) == pytest.approx(full * 0.9)   # 3 days: 1 penalised
    assert float(rows["s04"][f"{lab} final"]) == pytest.approx(full * 0.7)   # 5 days: 3 penalised
    for sid in ("s12", "s18"):
        assert rows[sid][f"{lab} days late"] == "0"


def test_starters_score_below_the_solutions_and_denominators_agree(graded):
    rows = graded["rows"]
    assert len({r["max"] for r in rows.values()}) == 1
    assert int(rows["s18"]["total"]) < int(rows["s12"]["total"]) == int(rows["s12"]["max"])
    assert int(rows["s24"][LABS[0]]) == int(rows["s12"][LABS[0]])   # the bare upload: lab 01 in full
