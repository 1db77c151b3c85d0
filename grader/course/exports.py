"""The class roster and the gradebook's exports for a learning-management system.

Roster (ROSTER=file, CSV with a header): the column `id` is the student id,
the name a submission has in the class folder without its extension (alice for
alice.tar.gz); `name`, `email` and `lms_id` are optional. Every roster student
gets a gradebook row, a missing submission included (status "missing").

LMS exports, written beside gradebook.csv, one row per student (the roster's
order, then submissions the roster does not name), each lab's final score (the
raw score less the late penalty):
  canvas.csv  Canvas's gradebook import: Student (name), ID (the roster's lms_id:
              Canvas's user id), SIS User ID (id), SIS Login ID (email), Section
              (empty), then one column per lab named "<lab>" (Canvas matches
              an existing assignment by that name, else creates one).
  moodle.csv  Moodle's "Import grades from CSV": ID number (id), Email address,
              Full name, then one column per lab; in the import form map
              "ID number" (or "Email address") to the user field of that name
              and each lab column to its grade item.
"""
import csv
from pathlib import Path

from course.gradebook import csv_cell


class RosterError(Exception):
    pass


def read_roster(path):
    """{id: {"name", "email", "lms_id"}} in the file's order."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise RosterError(f"roster {path}: {e.strerror}") from None
    if not rows:
        raise RosterError(f"roster {path}: no students (a CSV with a header line: id,name,email,lms_id)")
    heads = {h.strip().lower(): h for h in rows[0] if h}
    if "id" not in heads:
        raise RosterError(f"roster {path}: no `id` column (its header: {', '.join(rows[0])}); "
                          f"expected id,name,email,lms_id")
    out = {}
    for n, row in enumerate(rows, 2):
        sid = (row.get(heads["id"]) or "").strip()
        if not sid:
            raise RosterError(f"roster {path}: line {n} has no id")
        if sid in out:
            raise RosterError(f"roster {path}: line {n}: the id {sid} is there twice")
        out[sid] = {k: (row.get(heads[k]) or "").strip() if k in heads else "" for k in ("name", "email", "lms_id")}
    return out


def write_lms(rows, labs, out_dir):
    """canvas.csv and moodle.csv from the gradebook rows (dicts with student,
    name, email, lms_id and final[lab])."""
    out_dir = Path(out_dir)
    with open(out_dir / "canvas.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + labs)
        for r in rows:
            w.writerow([csv_cell(c) for c in [r["name"] or r["student"], r["lms_id"], r["student"],
                                              r["email"], ""] + [r["final"].get(l, 0) for l in labs]])
    with open(out_dir / "moodle.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ID number", "Email address", "Full name"] + labs)
        for r in rows:
            w.writerow([csv_cell(c) for c in [r["student"], r["email"], r["name"] or r["student"]]
                        + [r["final"].get(l, 0) for l in labs]])
