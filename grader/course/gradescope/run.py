#!/usr/bin/python3
"""Gradescope's autograder: grade the submission with the kit shipped in the zip.

run_autograder execs this. The student's files are taken from the submission
with the same rules as `make grade-class` (grader/course/intake.py): only .c/.h/.S
files under starter/<lab>/ (or bare files named like a lab's student files),
written into a fresh copy of this kit; links, paths that leave the
submission and oversized files refuse it, and results.json says why.

Gradescope's layout, each path overridable for a local test:
  AUTOGRADER_ROOT     /autograder (source/ holds this kit)
  KIT_GS_SUBMISSION   $AUTOGRADER_ROOT/submission
  KIT_GS_RESULTS      $AUTOGRADER_ROOT/results/results.json
  KIT_GS_TIMEOUT      seconds for the whole grading (default: config.json)
  KIT_GS_METADATA     $AUTOGRADER_ROOT/submission_metadata.json

The course file shipped in the zip (course.toml) sets what students see: a
test its lab's `hidden` list names gets Gradescope's visibility
"after_due_date"; the submission time (submission_metadata.json's created_at)
against the lab's deadline (the course file's, else the assignment's due_date)
gives the days late, and the late policy the penalty, applied to the score and
said in the output. Gradescope sees one assignment, not the student's other
labs, so here every late day of the policy is available to this lab; the class
gradebook (`make grade-class`) spends them across the labs, earliest first.
"""
import json
import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT = HERE.parents[2]
sys.path.insert(0, str(KIT / "grader"))
from course import batch, config  # noqa: E402
from course.gradebook import log_text  # noqa: E402
from course.kit import Kit  # noqa: E402
from course.procs import kill_tagged  # noqa: E402

RULES = ("The grader takes only your .c, .h and .S files under starter/<lab>/ "
         "(for example starter/01-segmentation/gdt.c), or those files uploaded on their own.")


def results_for(out, labs):
    """Gradescope's results.json for one Outcome."""
    tests = [t for lab_result in out.gradescope for t in lab_result.get("tests", [])]
    lines = []
    if out.status == "refused":
        lines += [f"Your submission was not graded: {out.reason}", "", RULES]
    elif out.status == "timeout":
        lines += [f"Grading stopped: {out.reason}. The tests below ran before it."]
    elif out.status == "build-error":
        lines += [f"{out.reason}: each test of that lab shows the compiler's messages."]
    elif out.status == "error":
        lines += [f"The grader failed: {out.reason}. Tell the course staff."]
    if out.intake is not None:
        lines += [""] + [l for l in out.intake.summary() if not l.startswith("ignored: ")]
    return {"score": sum(t.get("score", 0) for t in tests), "tests": tests,
            "output": "\n".join(lines).strip() or f"Graded lab(s): {', '.join(labs)}.",
            "execution_time": round(out.seconds), "visibility": "visible",
            "stdout_visibility": "hidden"}


def parse_time(text):
    """An aware datetime from Gradescope's ISO 8601 time (None when absent or unreadable)."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else None


def apply_course(res, course, labs, metadata):
    """results.json res with the course file's rules: per-test status, tests
    hidden until the deadline, and the late policy applied to the score."""
    for t in res["tests"]:
        t["status"] = "passed" if t.get("score", 0) >= t.get("max_score", 0) else "failed"
        lab, _, name = t.get("name", "").partition(": ")
        if lab in labs and name in course.lab(lab).hidden:
            t["visibility"] = "after_due_date"
    submitted = parse_time(metadata.get("created_at"))
    if submitted is None:
        return res
    due = parse_time((metadata.get("assignment") or {}).get("due_date"))
    policy = config.Course(late=config.Late(**{**course.late.__dict__}), labs=dict(course.labs))
    lines = []
    for lab in labs:
        if policy.lab(lab).deadline is None and due is not None:
            policy.labs[lab] = config.Lab(deadline=due)
    raw = {lab: sum(t.get("score", 0) for t in res["tests"] if t.get("name", "").startswith(f"{lab}: "))
           for lab in labs}
    late = policy.lateness({lab: submitted for lab in labs}, raw)
    score = 0
    for lab in labs:
        row, deadline = late[lab], policy.lab(lab).deadline
        score += row["score"]
        if deadline is None:
            continue
        if not row["days_late"]:
            lines.append(f"{lab}: submitted {submitted.isoformat(timespec='minutes')}, on time "
                         f"(deadline {deadline.isoformat(timespec='minutes')}).")
        else:
            lines.append(f"{lab}: submitted {submitted.isoformat(timespec='minutes')}, "
                         f"{row['days_late']} day(s) late (deadline {deadline.isoformat(timespec='minutes')}"
                         f", {course.late.grace_minutes:g} min grace); {row['late_days_used']} late day(s) "
                         f"counted, penalty {row['penalty']:g}%: {row['score']:g} of {raw[lab]:g} points.")
    res["score"] = round(score, 2)
    if lines:
        res["output"] = "\n".join(lines) + "\n\n" + res["output"]
    return res


def main():
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    submission = Path(os.environ.get("KIT_GS_SUBMISSION", root / "submission"))
    results = Path(os.environ.get("KIT_GS_RESULTS", root / "results" / "results.json"))
    settings = json.loads((HERE / "config.json").read_text()) if (HERE / "config.json").exists() else {}
    kit = Kit(KIT)
    labs = [kit.resolve_lab(l) for l in settings.get("labs", [])] or list(kit.labs)
    timeout = float(os.environ.get("KIT_GS_TIMEOUT") or settings.get("timeout") or 0) or 100 * len(labs)
    work = Path(tempfile.mkdtemp(prefix="kit-gs-"))
    b = batch.Batch(kit, labs, timeout, work)
    try:
        out = b.grade(submission, gradescope=True)
    finally:
        b.procs.kill_all()
        kill_tagged(b.tag)
        b.procs.reap_orphans()
        shutil.rmtree(work, ignore_errors=True)
    print(log_text(out.log))  # the full log on stdout, which Gradescope keeps for the staff
    results.parent.mkdir(parents=True, exist_ok=True)
    meta_path = Path(os.environ.get("KIT_GS_METADATA", root / "submission_metadata.json"))
    try:
        metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    except (OSError, ValueError):
        metadata = {}
    res = apply_course(results_for(out, labs), config.load(KIT), labs, metadata)
    results.write_text(json.dumps(res, indent=2) + "\n")
    print(f"run_autograder: {out.status}, {out.total()[0]}/{out.total()[1]} in {out.seconds:.1f}s")


if __name__ == "__main__":
    main()
