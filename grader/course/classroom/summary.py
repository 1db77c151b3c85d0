#!/usr/bin/python3
"""The score table of a grade run as Markdown: the GitHub Classroom job summary.

    summary.py GRADE_JSON --status N [--out FILE]

GRADE_JSON is what `grader/grade.py --json` wrote, N the exit status grade.py
returned. Prints the table, writes it to FILE, and, inside GitHub Actions,
appends it to $GITHUB_STEP_SUMMARY, writes score= and max= to $GITHUB_OUTPUT
and says the score as a notice. Exits 0 when grading ran, whatever the score;
1 (with an error annotation) when grading itself broke: grade.py exited
otherwise than 0 (full marks) or 1 (below), its results are missing or
unreadable, a lab of this copy is absent from them, or the exit status
disagrees with the score. A release ships this file with the workflow
(.github/workflows/grade.yml) that runs it.
"""
import argparse
import json
import os
import re
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parents[3]
MESSAGE_CHARS = 200            # of each failing test's reason (its first line), in the summary
SUMMARY_LIMIT = 900 * 1024     # GitHub refuses a step summary over 1 MiB


class Broken(Exception):
    """Grading did not finish: the score table would be wrong or missing."""


def cell(text, limit=None):
    """text as one Markdown table cell: no HTML, no links or emphasis, one line."""
    text = " ".join(str(text).split())
    if limit and len(text) > limit:
        text = text[:limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#!~])", r"\\\1", text)


def first_line(message):
    """The reason a test failed, without the serial lines that follow it."""
    return next((l for l in (message or "").splitlines() if l.strip()), "failed")


def labs_here(kit=KIT):
    """The labs of this copy of the kit (a release: the released labs)."""
    return sorted(p.name for p in (kit / "labs").glob("[0-9][0-9]-*") if p.is_dir())


def read_results(path, status, labs):
    """{lab: (built, [result, ...])} from grade.py's JSON; Broken when grading broke."""
    if status not in (0, 1):
        raise Broken(f"grade.py exited with status {status} (0: full marks, 1: below)")
    try:
        data = json.loads(Path(path).read_text())
        results, build = data["results"], data["build"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise Broken(f"grade.py wrote no readable results in {path} ({e.__class__.__name__}: {e})")
    if not isinstance(results, list) or not isinstance(build, dict):
        raise Broken(f"{path} is not what grade.py --json writes")
    missing = [lab for lab in labs if lab not in build]
    if missing:
        raise Broken(f"the results do not cover lab(s) {', '.join(missing)}")
    by_lab = {lab: (bool(build[lab][0]), [r for r in results if r.get("lab") == lab]) for lab in labs}
    if any(not rows for _, rows in by_lab.values()):
        raise Broken("a lab has no test results: " +
                     ", ".join(lab for lab, (_, rows) in by_lab.items() if not rows))
    earned, total = score(by_lab)
    if (status == 0) != (total > 0 and earned == total):
        raise Broken(f"grade.py exited {status} for a score of {earned}/{total}")
    return by_lab


def score(by_lab):
    earned = sum(r["points"] for _, rows in by_lab.values() for r in rows if r["passed"])
    total = sum(r["points"] for _, rows in by_lab.values() for r in rows)
    return earned, total


def markdown(by_lab, commit=""):
    earned, total = score(by_lab)
    lines = [f"## Grade: {earned}/{total} points", "",
             "| lab | build | tests passed | points |", "| --- | --- | --- | --- |"]
    for lab, (built, rows) in by_lab.items():
        got = sum(r["points"] for r in rows if r["passed"])
        lines.append(f"| `{lab}` | {'ok' if built else '**failed**'} | "
                     f"{sum(r['passed'] for r in rows)} of {len(rows)} | "
                     f"{got}/{sum(r['points'] for r in rows)} |")
    passed = sum(r["passed"] for _, rows in by_lab.values() for r in rows)
    count = sum(len(rows) for _, rows in by_lab.values())
    lines += [f"| **total** | | {passed} of {count} | **{earned}/{total}** |", ""]
    for lab, (built, rows) in by_lab.items():
        failing = [r for r in rows if not r["passed"]]
        if not failing:
            continue
        lines += [f"<details><summary>{lab}: {len(failing)} failing test(s)</summary>", "",
                  "| test | points | why |", "| --- | --- | --- |"]
        lines += [f"| `{r['name']}` | 0/{r['points']} | {cell(first_line(r['message']), MESSAGE_CHARS)} |"
                  for r in failing]
        lines += ["", "</details>", ""]
    lines.append("The same table, with every failure's whole message: `make grade` in your "
                 f"copy{' of ' + commit[:12] if commit else ''} (`make grade LAB=<lab>` for one lab).")
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > SUMMARY_LIMIT:   # the totals first: cut the details
        text = text.encode()[:SUMMARY_LIMIT].decode(errors="ignore") + "\n\n(cut: too long)\n"
    return text


def command_data(text):
    """text as the message of a workflow command (::error::...): one line."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def broken_markdown(reason):
    return (f"## Grading did not finish\n\n{cell(reason)}\n\n"
            "This is not your score: the grader could not run to the end. Look at the "
            "job's log, and tell the course staff if `make grade` works on your machine.\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="the file grade.py --json wrote")
    ap.add_argument("--status", type=int, required=True, help="grade.py's exit status")
    ap.add_argument("--out", help="also write the Markdown here")
    args = ap.parse_args()
    actions = os.environ.get("GITHUB_ACTIONS") == "true"
    try:
        by_lab = read_results(args.results, args.status, labs_here())
        text, (earned, total), broken = markdown(by_lab, os.environ.get("GITHUB_SHA", "")), \
            score(by_lab), None
    except Broken as e:
        text, earned, total, broken = broken_markdown(str(e)), None, None, str(e)
    print(text, end="")
    targets = [args.out] if args.out else []
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        targets.append(os.environ["GITHUB_STEP_SUMMARY"])
    for t in targets:
        with open(t, "a" if t != args.out else "w") as f:
            f.write(text)
    if os.environ.get("GITHUB_OUTPUT") and not broken:
        with open(os.environ["GITHUB_OUTPUT"], "a") as f:
            f.write(f"score={earned}\nmax={total}\n")
    if broken:
        print(f"::error title=Grading did not finish::{command_data(broken)}" if actions
              else f"summary: {broken}",
              file=sys.stderr if not actions else sys.stdout)
        sys.exit(1)
    if actions:
        print(f"::notice title=Score::{earned}/{total} points")


if __name__ == "__main__":
    main()
