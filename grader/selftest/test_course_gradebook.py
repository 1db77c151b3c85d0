"""The class gradebook's course side (grader/course/gradebook.py, exports.py,
intake.py's submission times): roster join, late policy, LMS exports, files
that are not submissions. Outcomes are made here, nothing is graded (the class
is graded end to end in test_batch.py)."""
import csv
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "grader"))

from course import config, exports, intake  # noqa: E402
from course.gradebook import Outcome, write_gradebook  # noqa: E402

LABS = ["01-segmentation", "02-page-fault"]
DUE1 = datetime(2026, 10, 2, 22, 0, tzinfo=timezone.utc)
COURSE = config.parse("""
[late]
grace_minutes = 0
penalty_per_day = 10
cap = 30
late_days = 2
[labs.01]
weight = 1
deadline = 2026-10-02T22:00:00Z
[labs.02]
weight = 3
deadline = 2026-10-09T22:00:00Z
""", config.kit_labs(KIT))


def outcome(sid, points, submitted=None, status="ok"):
    o = Outcome(sid, f"/class/{sid}.tar.gz")
    o.status = status
    for lab, p in zip(LABS, points):
        if p is not None:
            o.labs[lab] = {"points": p, "max": 50 if lab == LABS[0] else 100, "build": "ok", "tests": []}
    o.submitted = submitted
    return o


@pytest.fixture
def book(tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("id,name,email,lms_id\n"
                           "carol,Carol C,carol@example.edu,303\n"
                           "alice,Alice A,alice@example.edu,101\n"
                           "bob,Bob B,bob@example.edu,202\n")
    roster = exports.read_roster(roster_file)
    outs = [outcome("alice", [50, 100], DUE1 - timedelta(hours=1)),              # on time
            outcome("bob", [40, 80], DUE1 + timedelta(days=7, hours=70)),         # 1 day late for 01... see below
            outcome("zed", [10, None], None)]                                      # not on the roster, bare 01
    rows = write_gradebook(outs, LABS, tmp_path / "out", 1.0, COURSE, roster, ["ignored notes.txt"])
    csv_rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    return {"rows": {r["student"]: r for r in rows}, "csv": csv_rows, "out": tmp_path / "out"}


def test_roster_join_and_missing_students(book):
    rows = book["csv"]
    assert list(rows)[:3] == ["carol", "alice", "bob"]       # the roster's order, then strangers
    assert rows["alice"]["name"] == "Alice A" and rows["alice"]["lms_id"] == "101"
    assert rows["carol"]["status"] == "missing" and rows["carol"]["total"] == "0"
    assert rows["zed"]["name"] == ""
    log = (book["out"] / "run.log").read_text()
    assert "ignored notes.txt" in log and "not on the roster" in log and "zed" in log


def test_one_denominator(book):
    """Every row's max is the class's full marks, a bare one-lab upload's too."""
    rows = book["csv"]
    assert {r["max"] for r in rows.values()} == {"150"}
    assert rows["zed"]["total"] == "10"


def test_late_policy_in_the_gradebook(book):
    """bob submits once, 7 days 70 h after lab 01's deadline: lab 01 is 10 days late,
    lab 02 (a week later) 3 days late. Late days go to lab 01 first (the earlier
    deadline): 01 has 8 penalised days -> the cap 30%; 02 has 3 days at 10%."""
    r = book["csv"]["bob"]
    assert r["01-segmentation days late"] == "10" and r["02-page-fault days late"] == "3"
    assert r["late days used"] == "2"
    assert float(r["01-segmentation final"]) == 40 * 0.7
    assert float(r["02-page-fault final"]) == 80 * 0.7
    assert float(r["final total"]) == 40 * 0.7 + 80 * 0.7
    alice = book["csv"]["alice"]
    assert alice["late days used"] == "0" and float(alice["final total"]) == 150
    assert float(alice["weighted %"]) == 100
    # weights 1 and 3: (1 * 28/50 + 3 * 56/100) / 4
    assert float(r["weighted %"]) == round(100 * (28 / 50 + 3 * 56 / 100) / 4, 2)


def test_lms_exports_have_a_row_per_student(book):
    canvas = list(csv.DictReader(open(book["out"] / "canvas.csv")))
    assert [c["SIS User ID"] for c in canvas] == ["carol", "alice", "bob", "zed"]
    bob = canvas[2]
    assert bob["Student"] == "Bob B" and bob["ID"] == "202" and bob["SIS Login ID"] == "bob@example.edu"
    assert float(bob["01-segmentation"]) == 28 and canvas[0]["01-segmentation"] == "0"
    moodle = list(csv.DictReader(open(book["out"] / "moodle.csv")))
    assert moodle[1] == {"ID number": "alice", "Email address": "alice@example.edu", "Full name": "Alice A",
                         "01-segmentation": "50", "02-page-fault": "100"}
    data = json.loads((book["out"] / "gradebook.json").read_text())
    assert {s["student"] for s in data["students"]} == {"alice", "bob", "carol", "zed"}


@pytest.mark.parametrize("text, words", [
    ("name,email\nA,a@x\n", "no `id` column"),
    ("id,name\n,A\n", "line 2 has no id"),
    ("id\nx\nx\n", "the id x is there twice"),
    ("id,name\n", "no students"),
])
def test_roster_mistakes(tmp_path, text, words):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(exports.RosterError, match=words.replace("`", ".")):
        exports.read_roster(tmp_path / "r.csv")


def test_documents_in_the_class_folder_are_not_submissions(tmp_path):
    for name in ("alice.tar.gz", "bob.zip", "carol.rar", "notes.txt", "roster.csv", "README.md"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dave").mkdir()
    ignored = []
    subs = intake.list_submissions(tmp_path, ignored)
    assert [p.name for p in subs] == ["alice.tar.gz", "bob.zip", "carol.rar", "dave"]
    assert sorted(p.name for p in ignored) == ["README.md", "notes.txt", "roster.csv"]


def test_a_folders_submission_time(tmp_path):
    (tmp_path / "gdt.c").write_text("x")
    os.utime(tmp_path / "gdt.c", (1_790_000_000, 1_790_000_000))
    entries = [intake.Entry("gdt.c", "file", 1)]
    t, where = intake.folder_time(tmp_path, entries)
    assert t == datetime.fromtimestamp(1_790_000_000, timezone.utc) and "mtime" in where
    (tmp_path / "submission_metadata.json").write_text(json.dumps({"created_at": "2026-10-03T01:02:03Z"}))
    t, where = intake.folder_time(tmp_path, entries)
    assert t == datetime(2026, 10, 3, 1, 2, 3, tzinfo=timezone.utc) and where == "submission_metadata.json"


def test_compare_names_each_changed_test(book):
    from course.gradebook import compare
    previous = json.loads((book["out"] / "gradebook.json").read_text())
    alice = previous["students"][1]
    assert alice["student"] == "alice"
    alice["labs"]["01-segmentation"]["tests"] = [{"name": "test_a", "points": 0, "max": 5, "passed": False}]
    alice["points"] = 145
    now = [dict(r) for r in book["rows"].values()]
    for r in now:
        if r["student"] == "alice":
            r["labs"] = {"01-segmentation": {"tests": [{"name": "test_a", "points": 5, "max": 5, "passed": True}]},
                         "02-page-fault": r["labs"]["02-page-fault"]}
    changes = compare(previous, now)
    assert "alice: 01-segmentation: test_a: failed -> passed (+5)" in changes
    assert any(c.startswith("alice: total 145 -> 150") for c in changes)
    assert not [c for c in changes if not c.startswith("alice")]
    assert compare(json.loads((book["out"] / "gradebook.json").read_text()), list(book["rows"].values())) == []


def test_plagiarism_layout(tmp_path):
    """base/ holds the starter; one folder per student of the files taken, per lab."""
    from course import plagiarism
    lab = LABS[0]
    plagiarism.write_base(KIT, [lab], tmp_path)
    starter = sorted(p.name for p in (KIT / "starter" / lab).iterdir() if p.suffix in (".c", ".h", ".S"))
    assert starter and sorted(p.name for p in (tmp_path / lab / "base").iterdir()) == starter
    plagiarism.write_student("alice", {f"starter/{lab}/gdt.c": b"int x;\n", f"starter/{LABS[1]}/idt.c": b"y",
                                       "labs/kernel/evil.c": b"z"}, [lab], tmp_path)
    plagiarism.write_student("base", {f"starter/{lab}/gdt.c": b"int b;\n"}, [lab], tmp_path)
    assert (tmp_path / lab / "alice" / "gdt.c").read_bytes() == b"int x;\n"
    assert not (tmp_path / LABS[1]).exists() and not list(tmp_path.rglob("evil.c"))
    assert (tmp_path / lab / "base_" / "gdt.c").read_bytes() == b"int b;\n"   # never the base folder
