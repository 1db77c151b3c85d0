"""The gradebook of a class: one Outcome per student, written as
gradebook.csv, gradebook.json and logs/<student>.log.

What a submission chose (its id, its file names) and what its kernel or its
compiler printed reach these files only in a form that cannot pose as the
grader: names through shown() (one line, control characters escaped), quoted
output indented under "  | " with its control characters removed, and every
CSV cell that a spreadsheet would run as a formula prefixed with a quote.
"""
import csv
import json
import os
import re

from harness.text import shown, strip_control

# the first characters that make a spreadsheet read a cell as a formula (or a
# DDE command), tab and CR among them since some programs skip them first
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Outcome:
    """The gradebook row of one student. status: ok, build-error, timeout,
    refused, error (the grader failed: grade again) or interrupted."""

    def __init__(self, student, source):
        self.student = student
        self.source = source
        self.status = "ok"
        self.reason = ""
        self.labs = {}        # lab -> {"points", "max", "build", "tests": [...]}
        self.seconds = 0.0
        self.log = []         # lines; a line holding newlines goes on indented
        self.gradescope = []  # per-lab Gradescope results (gradescope/run.py)
        self.intake = None
        self.submitted = None  # an aware datetime (intake.py says where it comes from)
        self.late = {}         # lab -> the late policy's verdict (config.Course.lateness)

    def total(self):
        return (sum(l["points"] for l in self.labs.values()),
                sum(l["max"] or 0 for l in self.labs.values()))

    def fail(self, status, reason):
        """Set a verdict worse than the present one (ok < build-error < error)."""
        if self.status in ("ok", "build-error"):
            self.status, self.reason = status, reason

    def to_json(self, log_path=None):
        points, full = self.total()
        return {"student": self.student, "source": self.source, "status": self.status,
                "reason": self.reason, "points": points, "max": full,
                "seconds": round(self.seconds, 1), "labs": self.labs,
                "log": str(log_path) if log_path else None}


def quoted(text):
    """Output of a program the submission drove (compiler, grade run), for a
    log: control characters removed, every line indented under "  | "."""
    return "\n".join("  | " + l for l in strip_control(text).rstrip().splitlines())


def tail_text(path, limit=256 << 10):
    """The last `limit` bytes of a program's output file, quoted()."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return ("  | [...]\n" if size > limit else "") + quoted(text)


def log_text(lines):
    """A log's text: each entry's later lines indented, so that no entry can
    start a line of its own (a forged "status: ok"), no control characters."""
    out = []
    for entry in lines:
        first, *rest = strip_control(str(entry)).split("\n")
        out.append(first)
        out += ["  " + l if not l.startswith(" ") else l for l in rest]
    return "\n".join(out)


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text: a value starting like a formula
    gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_name(student):
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", student).lstrip(".") or "_"


def unique_ids(outcomes):
    seen = {}
    for o in outcomes:
        seen[o.student] = seen.get(o.student, 0) + 1
    for o in outcomes:
        if seen[o.student] > 1:
            o.student = os.path.basename(o.source)


def lateness(o, labs, course):
    """o.late and each lab's final score: the late policy applied to o's labs
    (every lab of a submission was handed in at o.submitted)."""
    raw = {l: o.labs[l]["points"] if l in o.labs else 0 for l in labs}
    if course is None or o.submitted is None:
        o.late = {}
        return raw
    o.late = course.lateness({l: o.submitted for l in labs}, raw)
    return {l: o.late[l]["score"] for l in labs}


def weighted(final, maxima, labs, course):
    """The course percentage: each lab's final/max, weighted by the course file."""
    weights = {l: course.lab(l).weight if course else 1 for l in labs}
    total = sum(weights[l] for l in labs if maxima.get(l))
    if not total:
        return 0.0
    return round(100 * sum(weights[l] * final[l] / maxima[l] for l in labs if maxima.get(l)) / total, 2)


def write_gradebook(outcomes, labs, out_dir, elapsed, course=None, roster=None, notes=()):
    """gradebook.csv, gradebook.json, logs/<student>.log, run.log (notes: what
    the run ignored, students the roster does not name) and the LMS exports
    (canvas.csv, moodle.csv; exports.py) in out_dir. roster {id: {name, email,
    lms_id}}: its students without a submission get a row ("missing").
    Returns the rows (dicts) as written."""
    from course.exports import write_lms
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    for old in logs.glob("*.log"):  # a previous run's
        old.unlink()
    roster = roster or {}
    notes = list(notes)
    have = {o.student for o in outcomes}
    strangers = [o.student for o in outcomes if roster and o.student not in roster]
    if strangers:
        notes.append(f"not on the roster (graded, no name): {', '.join(shown(s) for s in strangers)}")
    for sid in roster:
        if sid not in have:
            o = Outcome(sid, "")
            o.status, o.reason = "missing", "no submission"
            outcomes = outcomes + [o]
    order = {sid: i for i, sid in enumerate(roster)}
    outcomes = sorted(outcomes, key=lambda o: (order.get(o.student, len(order)), o.student))
    maxima = {l: 0 for l in labs}
    for o in outcomes:
        for lab, l in o.labs.items():
            maxima[lab] = max(maxima.get(lab, 0), l["max"] or 0)
    for o in outcomes:
        for lab, l in o.labs.items():
            if l["max"] is None:
                l["max"] = maxima[lab]
    full = sum(maxima[l] for l in labs)
    rows = []
    used = set()
    for o in outcomes:
        name = safe_name(o.student)
        while name in used:  # ids that differ only in characters safe_name replaces
            name += "_"
        used.add(name)
        final = lateness(o, labs, course)
        who = roster.get(o.student, {"name": "", "email": "", "lms_id": ""})
        log_path = logs / f"{name}.log"
        log_path.write_text(log_text(o.log) + "\n" + "\n".join([
            f"status: {o.status}" + (f" ({shown(o.reason)})" if o.reason else ""),
            f"points: {o.total()[0]}/{full}", f"seconds: {o.seconds:.1f}"]
            + [f"late: {lab}: {v['days_late']} day(s), {v['late_days_used']} late day(s) used, "
               f"penalty {v['penalty']:g}%: {v['score']:g}" for lab, v in o.late.items() if v["days_late"]])
            + "\n")
        row = o.to_json(log_path.relative_to(out_dir))
        row["max"] = full
        row.update(who)
        row["submitted"] = o.submitted.isoformat(timespec="seconds") if o.submitted else ""
        row["late"] = o.late
        row["late_days_used"] = sum(v["late_days_used"] for v in o.late.values())
        row["final"] = final
        row["final_total"] = round(sum(final.values()), 2)
        row["weighted_percent"] = weighted(final, maxima, labs, course)
        rows.append(row)
    with open(out_dir / "gradebook.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "status", "name", "email", "lms_id"] + labs
                   + ["total", "max", "seconds", "reason", "submitted", "late days used"]
                   + [f"{l} days late" for l in labs] + [f"{l} final" for l in labs]
                   + ["final total", "weighted %"])
        for o, row in zip(outcomes, rows):
            cells = ([shown(o.student), o.status, row["name"], row["email"], row["lms_id"]]
                     + [o.labs[l]["points"] if l in o.labs else 0 for l in labs]
                     + [o.total()[0], full, f"{o.seconds:.1f}", shown(o.reason), row["submitted"],
                        row["late_days_used"]]
                     + [o.late[l]["days_late"] if l in o.late else 0 for l in labs]
                     + [row["final"][l] for l in labs] + [row["final_total"], row["weighted_percent"]])
            w.writerow([csv_cell(c) for c in cells])
    (out_dir / "gradebook.json").write_text(json.dumps(
        {"labs": labs, "max": maxima, "seconds": round(elapsed, 1), "students": rows}, indent=1) + "\n")
    (out_dir / "run.log").write_text("".join(f"note: {n}\n" for n in notes))
    write_lms([{**r, "student": shown(r["student"])} for r in rows], labs, out_dir)
    return rows


def compare(previous, rows):
    """What changed since a previous gradebook.json (dict) for the students of
    rows: one line per test whose result changed, per status and total that
    changed, per student new to or absent from this run. [] when nothing did."""
    before = {s["student"]: s for s in previous.get("students", [])}
    out = []
    for r in rows:
        old = before.get(r["student"])
        who = shown(r["student"])
        if old is None:
            out.append(f"{who}: new (not in the previous gradebook): {r['points']}/{r['max']}")
            continue
        if old.get("status") != r["status"]:
            out.append(f"{who}: status {old.get('status')} -> {r['status']}")
        for lab in sorted(set(old.get("labs", {})) | set(r["labs"])):
            was = {t["name"]: t for t in old.get("labs", {}).get(lab, {}).get("tests", [])}
            now = {t["name"]: t for t in r["labs"].get(lab, {}).get("tests", [])}
            for name in sorted(set(was) | set(now)):
                a, b = was.get(name), now.get(name)
                if a and b and a.get("passed") == b.get("passed"):
                    continue
                state = lambda t: "absent" if t is None else "passed" if t.get("passed") else "failed"  # noqa: E731
                delta = (b or {}).get("points", 0) - (a or {}).get("points", 0)
                out.append(f"{who}: {lab}: {name}: {state(a)} -> {state(b)} ({delta:+d})")
        if old.get("points") != r["points"] or old.get("final_total", r["final_total"]) != r["final_total"]:
            out.append(f"{who}: total {old.get('points')} -> {r['points']}"
                       + (f", final {old.get('final_total')} -> {r['final_total']}"
                          if "final_total" in old else ""))
    return out
