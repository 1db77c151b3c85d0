"""The course file (course.toml at the kit's root), read and checked.

One place for what a course decides: its name, the labs released to students,
the labs whose solutions are published, each lab's weight and deadline, which
tests stay hidden until the deadline, and the late policy. Every course tool
(the build rules' PUBLISHED, make dist/publish/gradescope/grade-class) reads it
through load(), so a word means the same thing everywhere; command-line
variables override it. Per-test points stay with the tests (pytest marks).

Deadlines are TOML datetimes. One without an offset (2026-10-02T23:59:00) is
read in the course's `timezone` offset (default "+00:00"); a bare date
(2026-10-02) means the end of that day.
"""
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
FILE = "course.toml"
TOP_KEYS = {"name", "released", "published", "timezone", "late", "labs", "source_url"}
LATE_KEYS = {"grace_minutes", "penalty_per_day", "cap", "late_days"}
LAB_KEYS = {"weight", "deadline", "hidden"}


class CourseError(Exception):
    """The course file is wrong: str() says where and how."""


@dataclass
class Late:
    """The late policy. A submission later than its deadline plus the grace is
    late by whole days (a started day counts); the student's late days are
    spent first (in deadline order), each remaining day costs penalty_per_day
    percent of the lab's score, never more than cap percent in all."""
    grace_minutes: float = 0
    penalty_per_day: float = 0
    cap: float = 100
    late_days: int = 0


@dataclass
class Lab:
    weight: float = 1.0
    deadline: datetime | None = None   # aware (UTC offset known)
    hidden: list = field(default_factory=list)   # test names hidden until the deadline


@dataclass
class Course:
    name: str = "course"
    released: list = field(default_factory=list)    # lab folder names; empty: all labs
    published: list = field(default_factory=list)   # lab folder names, in lab order
    late: Late = field(default_factory=Late)
    labs: dict = field(default_factory=dict)         # lab folder name -> Lab (only those named)
    source_url: str = ""   # where the site's links to kit files point (+ the file's path); "": none

    def lab(self, name):
        return self.labs.get(name) or Lab()

    def released_labs(self, all_labs):
        return list(self.released) or list(all_labs)

    def hidden_now(self, lab, test, now=None):
        """Whether test of lab is hidden from students at now (default: the
        current time): named in the lab's hidden list, before its deadline."""
        info = self.lab(lab)
        if test not in info.hidden and test.split("::")[-1] not in info.hidden:
            return False
        now = now or datetime.now(timezone.utc)
        return info.deadline is None or now < info.deadline

    def lateness(self, submitted, raw=None):
        """The late policy applied to one student's labs. submitted: lab ->
        aware datetime (None: no time known); raw: lab -> points. Returns
        lab -> dict(days_late, late_days_used, penalty (percent), score
        (raw less the penalty, when raw gives the lab's points)); labs are
        taken in deadline order so the student's late days go to the earliest."""
        raw = raw or {}
        budget = self.late.late_days
        out = {}
        order = sorted(submitted, key=lambda l: (self.lab(l).deadline or datetime.max.replace(tzinfo=timezone.utc), l))
        for lab in order:
            days = days_late(submitted[lab], self.lab(lab).deadline, self.late.grace_minutes)
            used = min(days, budget)
            budget -= used
            penalty = min(self.late.cap, self.late.penalty_per_day * (days - used))
            row = {"days_late": days, "late_days_used": used, "penalty": penalty}
            if raw.get(lab) is not None:
                score = round(raw[lab] * (1 - penalty / 100), 2)
                row["score"] = int(score) if score == int(score) else score   # 50, not 50.0
            out[lab] = row
        return out


def days_late(submitted, deadline, grace_minutes=0):
    """Whole days (a started one counts) submitted is past deadline + grace; 0
    when on time or when either time is unknown."""
    if submitted is None or deadline is None:
        return 0
    over = (submitted - deadline - timedelta(minutes=grace_minutes)).total_seconds()
    return max(0, math.ceil(over / 86400))


def kit_labs(root=KIT):
    return sorted(p.name for p in (Path(root) / "labs").glob("[0-9][0-9]-*") if p.is_dir())


def resolve_lab(name, labs, what="lab"):
    """A lab folder name from a number or a name: 3, 03, 03-cr3, cr3."""
    name = str(name).strip()
    if name in labs:
        return name
    hits = [l for l in labs if l[:2] == name.zfill(2) or l[3:] == name] if name else []
    if len(hits) != 1:
        raise CourseError(f"unknown {what} '{name}' (labs: {' '.join(labs)})")
    return hits[0]


def load(root=KIT):
    """The Course of the kit at root (defaults when it has no course file)."""
    path = Path(root) / FILE
    if not path.is_file():
        return Course()
    return parse(path.read_text(), kit_labs(root), path)


def _number(value, where, what, low=0, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CourseError(f"{where}: {what} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        raise CourseError(f"{where}: {what} must be between {low} and {high if high is not None else 'any'}, "
                          f"not {value}")
    return value


def _tz(text, where):
    m = re.fullmatch(r"([+-])(\d\d):(\d\d)", str(text))
    if not m:
        raise CourseError(f"{where}: timezone must be an offset like \"+01:00\", not {text!r}")
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(-delta if m.group(1) == "-" else delta)


def deadline_of(value, tz, where):
    """An aware datetime from a course file's deadline value."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59), tz)
    raise CourseError(f"{where}: deadline must be a TOML date or datetime (unquoted, like "
                      f"2026-10-02T23:59:00+02:00), not {value!r}")


def _lab_list(data, key, labs, where):
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise CourseError(f"{where}: {key} must be a list of lab names, like [\"01-segmentation\"]")
    return sorted({_resolve(p, labs, f"{key} lab", where) for p in value})


def _resolve(name, labs, what, where):
    try:
        return resolve_lab(name, labs, what)
    except CourseError as e:
        raise CourseError(f"{where}: {e}") from None


def parse(text, labs, where=FILE):
    """The Course a course file's text describes, for a kit with these labs
    (a release reads the course file of the commit it is made from)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CourseError(f"{where}: not valid TOML: {e}") from None
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise CourseError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(TOP_KEYS))})")
    course = Course(name=str(data.get("name", "course")))
    course.source_url = _source_url(data.get("source_url", ""), where)
    course.published = _lab_list(data, "published", labs, where)
    if course.published and not _PUBLISHED_LINE.search(text):
        raise CourseError(f"{where}: keep `published = [...]` on one line (the build rules read it)")
    course.released = _lab_list(data, "released", labs, where)
    tz = _tz(data.get("timezone", "+00:00"), where)
    late = data.get("late", {})
    if not isinstance(late, dict):
        raise CourseError(f"{where}: late must be a table ([late])")
    unknown = sorted(set(late) - LATE_KEYS)
    if unknown:
        raise CourseError(f"{where}: [late] has unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(LATE_KEYS))})")
    course.late = Late(
        grace_minutes=_number(late.get("grace_minutes", 0), where, "late.grace_minutes"),
        penalty_per_day=_number(late.get("penalty_per_day", 0), where, "late.penalty_per_day", 0, 100),
        cap=_number(late.get("cap", 100), where, "late.cap", 0, 100),
        late_days=int(_number(late.get("late_days", 0), where, "late.late_days")))
    tables = data.get("labs", {})
    if not isinstance(tables, dict):
        raise CourseError(f"{where}: labs must be tables, like [labs.01-segmentation]")
    for key, info in tables.items():
        name = _resolve(key, labs, "lab in [labs]", where)
        here = f"{where}: [labs.{key}]"
        if name in course.labs:
            raise CourseError(f"{here}: {name} is described twice")
        if not isinstance(info, dict):
            raise CourseError(f"{here}: must be a table")
        unknown = sorted(set(info) - LAB_KEYS)
        if unknown:
            raise CourseError(f"{here}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(LAB_KEYS))})")
        hidden = info.get("hidden", [])
        if not isinstance(hidden, list) or not all(isinstance(t, str) for t in hidden):
            raise CourseError(f"{here}: hidden must be a list of test names, like [\"test_user_write\"]")
        course.labs[name] = Lab(
            weight=_number(info.get("weight", 1.0), here, "weight"),
            deadline=deadline_of(info["deadline"], tz, here) if "deadline" in info else None,
            hidden=hidden)
    return course


def _source_url(value, where):
    """The course site's source browser: an http(s) URL that a kit file's path is
    appended to, so it ends with a slash."""
    if value == "":
        return ""
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s/?#]+/[^\s?#]*", value) \
            or not value.endswith("/"):
        raise CourseError(f"{where}: source_url must be an http(s) URL ending in /, to which the "
                          f"site appends a kit file's path, like "
                          f"\"https://git.example.edu/os/kit/blob/main/\" (got {value!r})")
    return value


_PUBLISHED_LINE = re.compile(r"(?m)^published\s*=\s*\[[^\]\n]*\].*$")


def published_text(labs):
    """The published line of a course file for these labs."""
    return list_text("published", labs)


def list_text(key, labs):
    return f"{key} = [" + ", ".join(f'"{l}"' for l in labs) + "]"


def with_published(text, labs):
    """A course file's text with its published list replaced by labs (for the
    course file a release or an autograder zip ships: it publishes exactly what
    that release holds). text None: a course file of that line alone."""
    return with_list(text, "published", labs)


def with_list(text, key, labs):
    """A course file's text with its one-line list `key` (published, released)
    replaced by labs, or added before the first table."""
    line = list_text(key, labs)
    if text is None:
        return line + "\n"
    one_line = re.compile(rf"(?m)^{key}\s*=\s*\[[^\]\n]*\].*$")
    if one_line.search(text):
        return one_line.sub(lambda _: line, text, count=1)
    if re.search(rf"(?m)^{key}\s*=", text):
        raise CourseError(f"{FILE}: keep `{key} = [...]` on one line (the build rules and releases rewrite it)")
    return _insert_top(text, line)


def _insert_top(text, line):
    """text with a top-level line added before its first table (TOML keys
    after a [table] header belong to that table)."""
    m = re.search(r"(?m)^\s*\[", text)
    if not m:
        return text.rstrip("\n") + "\n" + line + "\n"
    return text[:m.start()] + line + "\n" + text[m.start():]


def main():
    """`make course-check`: the course file checked, and what it says."""
    import sys
    try:
        course = load(KIT)
    except CourseError as e:
        print(f"course: {e}", file=sys.stderr)
        return 2
    labs = kit_labs(KIT)
    print(f"course: {course.name}: released {' '.join(l[:2] for l in course.released_labs(labs))}; "
          f"published {' '.join(l[:2] for l in course.published) or 'none'}")
    p = course.late
    print(f"course: late policy: {p.grace_minutes:g} min grace, {p.late_days} late day(s), then "
          f"{p.penalty_per_day:g}% a day, at most {p.cap:g}%")
    for lab in course.released_labs(labs):
        info = course.lab(lab)
        print(f"  {lab:<18} weight {info.weight:g}  deadline {info.deadline.isoformat() if info.deadline else '-'}"
              + (f"  hidden until then: {', '.join(info.hidden)}" if info.hidden else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
