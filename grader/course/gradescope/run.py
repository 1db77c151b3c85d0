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
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT = HERE.parents[2]
sys.path.insert(0, str(KIT / "grader"))
from course import batch  # noqa: E402
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


def main():
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    submission = Path(os.environ.get("KIT_GS_SUBMISSION", root / "submission"))
    results = Path(os.environ.get("KIT_GS_RESULTS", root / "results" / "results.json"))
    config = json.loads((HERE / "config.json").read_text()) if (HERE / "config.json").exists() else {}
    kit = Kit(KIT)
    labs = [kit.resolve_lab(l) for l in config.get("labs", [])] or list(kit.labs)
    timeout = float(os.environ.get("KIT_GS_TIMEOUT") or config.get("timeout") or 0) or 100 * len(labs)
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
    results.write_text(json.dumps(results_for(out, labs), indent=2) + "\n")
    print(f"run_autograder: {out.status}, {out.total()[0]}/{out.total()[1]} in {out.seconds:.1f}s")


if __name__ == "__main__":
    main()
