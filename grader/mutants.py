#!/usr/bin/python3
"""The mutation suite (`make mutants`): realistic bugs planted in the solutions,
each of which the lab's tests must catch, on every run.

    mutants.py [--lab L]... [--repeat N] [--jobs N] [--timeout S] [--json FILE]
               [--sample K [--day YYYY-MM-DD]] [--list] [MUTANT.patch]...

A mutant is grader/mutants/<lab>/NN-name.patch: a unified diff against the
solution files (paths a/solutions/<lab>/file.c, b/solutions/<lab>/file.c,
applied with `patch -p1`), under a header of `# ` lines:

    # classic: <the bug, as a student would write it>      (or  # subtle: ...)
    # equivalent: <why no test can observe it>              (optional)
    # build: <why failing to compile is the catch>          (optional)
    # message: <regex>   a planted classic bug: some failing test's message must
                         match it (re.search, case-insensitive): the message that
                         names the likely cause (optional; `make check-messages`)

An equivalent mutant is graded once and left out of the kill rate (killed, its
header is wrong). Each grading is a submission folder holding every lab's
solution as the student's files, the patch applied, graded with
`grade.py --lab <lab> --submission <dir> --published all` (earlier labs from
the solutions, so only the mutated lab can fail), fresh seeds each run
(KIT_SEED is dropped from the environment), in its own temporary folder
(build included; the core's objects are shared in build/core), bounded by
--timeout seconds (a timeout counts as killed). Killed: at least one test
failed. A mutant that does not apply, or does not build without a `# build:`
line, is broken. --repeat N grades each mutant N times: a mutant killed in
fewer than N runs is caught on some seeds only, a test to fix. --sample K
grades K mutants per lab, a choice that rotates with the day (`make check`).

Exits non-zero when a mutant not marked equivalent survives a run, a mutant
is broken or malformed, an equivalent one is killed, or a QEMU outlives its run.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

GRADER = Path(__file__).resolve().parent
KIT = GRADER.parent
MUTANTS = GRADER / "mutants"
PY = "/usr/bin/python3"
TIMEOUT = 60
CLASSES = ("classic", "subtle")
_HEADER = re.compile(r"#\s*(\w+):\s*(.*\S)")
_TARGET = re.compile(r"^\+\+\+ (?:b/)?(\S+)", re.M)


@dataclass
class Mutant:
    lab: str
    path: Path
    cls: str = ""              # classic | subtle
    what: str = ""             # the bug
    equivalent: str = ""       # why no test can observe it ("" when it can)
    build: str = ""            # why failing to build is the intended catch
    message: str = ""          # a regex some failing test's message must match
    problem: str = ""          # a malformed header or patch

    @property
    def name(self):
        return self.path.stem


def parse(lab, path):
    """The Mutant a patch file describes (problem set when it is malformed)."""
    m = Mutant(lab, path)
    text = path.read_text(errors="replace")
    head = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        head.append(line)
    fields = [_HEADER.fullmatch(l.strip()) for l in head]
    if not fields or not fields[0] or fields[0].group(1) not in CLASSES:
        m.problem = "the first line must be `# classic: <the bug>` or `# subtle: <the bug>`"
        return m
    m.cls, m.what = fields[0].group(1), fields[0].group(2)
    for f, line in zip(fields[1:], head[1:]):
        key = f.group(1) if f else None
        if key in ("equivalent", "build", "message"):
            setattr(m, key, f.group(2))
        else:
            m.problem = f"unknown header line {line!r} (classic, subtle, equivalent, build, message)"
    if m.message:
        try:
            re.compile(m.message)
        except re.error as e:
            m.problem = f"`# message:` is not a regular expression: {e}"
    targets = _TARGET.findall(text)
    if not targets:
        m.problem = "no `+++ b/solutions/<lab>/file` line: not a unified diff"
    for t in targets:
        if not t.startswith(f"solutions/{lab}/") or ".." in t.split("/"):
            m.problem = f"it patches {t}, outside solutions/{lab}/"
    return m


def resolve_labs(names):
    """Lab folder names for LAB= values (01, 01-segmentation, segmentation;
    one value may name several: LAB="01 02")."""
    sys.path.insert(0, str(GRADER))
    from harness import config
    labs = []
    for name in " ".join(names).split():
        hits = [l for l in config.labs() if l == name or l.startswith(name) or l[3:] == name]
        if len(hits) != 1:
            sys.exit(f"mutants: unknown lab '{name}' (labs: {' '.join(config.labs())})")
        labs.append(hits[0])
    return labs


def load(labs=None, files=()):
    """The mutants of these labs (every lab with a folder when none), or the given files."""
    if files:
        return [parse(Path(f).resolve().parent.name, Path(f).resolve()) for f in files]
    dirs = sorted(d for d in MUTANTS.glob("[0-9][0-9]-*") if d.is_dir())
    if labs:
        dirs = [d for d in dirs if d.name in labs]
    return [parse(d.name, p) for d in dirs for p in sorted(d.glob("*.patch"))]


def sample(mutants, k, day):
    """k mutants per lab, rotating with the day: day d takes the lab's mutants
    from index (d * k) mod n on, so each is graded every ceil(n / k) days. A lab
    with planted-bug messages (`# message:`) samples those, so make check also
    checks a message a day; make mutants grades the rest."""
    by_lab = {}
    for m in mutants:
        by_lab.setdefault(m.lab, []).append(m)
    by_lab = {lab: [m for m in ms if m.message] or ms for lab, ms in by_lab.items()}
    out = []
    for lab, ms in by_lab.items():
        start = (day.toordinal() * k) % len(ms)
        out += [ms[(start + i) % len(ms)] for i in range(min(k, len(ms)))]
    return out


# ---- one grading --------------------------------------------------------------------
@dataclass
class Run:
    """One grading of one mutant."""
    status: str                  # killed | survived | broken
    reason: str = ""             # tests | timeout | build; or why it is broken
    killers: list = field(default_factory=list)   # the tests that failed
    seeds: dict = field(default_factory=dict)     # test name -> seed it used
    messages: dict = field(default_factory=dict)  # failing test -> first line of its message
    full: list = field(default_factory=list)       # the failing tests' whole messages
    seconds: float = 0.0


def _patch(m, root, *extra):
    """Apply m's patch under root (patch(1): exact context, no backups), or raise
    ValueError(why) when it does not apply."""
    p = subprocess.run(["patch", "-p1", "--batch", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
                        *extra, "-d", str(root), "-i", str(m.path)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise ValueError("does not apply: " + (p.stdout + p.stderr).strip().replace("\n", "; ")[-400:])


def apply(m, root):
    """root/submission/starter/<lab> = every lab's solution, the patch applied;
    return the submission folder, or raise ValueError(why) when it does not apply."""
    shutil.copytree(KIT / "solutions", root / "solutions")
    _patch(m, root)
    sub = root / "submission"
    sub.mkdir()
    (root / "solutions").rename(sub / "starter")
    return sub


def check_applies(m):
    """Raise ValueError(why) unless m's patch applies to the kit's solutions as
    apply() applies it (--dry-run on the kit itself: nothing copied or written)."""
    _patch(m, KIT, "--dry-run")


def processes_under(root):
    """Processes whose command line names a path under root: what one grading
    started (grade.py, make, the compilers, QEMU, which leads a session of its
    own, so the grading's process group misses it)."""
    needle = str(root).encode() + b"/"
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle in f.read() and int(pid) != os.getpid():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def end_all(root):
    """Kill what is left of the grading in root; return how many processes were left."""
    left = processes_under(root)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(left)


def grade_once(m, timeout, leftovers):
    """Grade mutant m once in a temporary folder of its own; a Run."""
    t0 = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix=f"kit-mutant-{m.lab[:2]}-{m.name}-"))
    try:
        try:
            sub = apply(m, root)
        except ValueError as e:
            return Run("broken", str(e))
        (root / "tmp").mkdir()
        out = root / "result.json"
        env = {k: v for k, v in os.environ.items() if k not in ("KIT_SEED", "KIT_TRANSCRIPTS")}
        env.update(KIT_BUILD=str(root / "build"), TMPDIR=str(root / "tmp"))
        cmd = [PY, str(GRADER / "grade.py"), "--lab", m.lab, "--submission", str(sub), "--json", str(out),
               "--quiet", "--jobs", "1", "--published", "all"]
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            text = p.communicate(timeout=timeout)[0].decode(errors="replace")
            late = False
        except subprocess.TimeoutExpired:
            late = True
            end_all(root)
            text = p.communicate()[0].decode(errors="replace")
        left = end_all(root)
        if left and not late:
            leftovers.append(f"{m.lab}/{m.name}: {left} process(es) outlived grade.py")
        run = verdict(m, out, late, p.returncode, text, timeout)
        run.seconds = time.monotonic() - t0
        return run
    finally:
        shutil.rmtree(root, ignore_errors=True)


def verdict(m, out, late, rc, text, timeout):
    if late:
        return Run("killed", "timeout", [f"(timeout {timeout:g} s)"])
    try:
        data = json.loads(out.read_text())
    except (OSError, ValueError):
        return Run("broken", f"grade.py wrote no results (exit {rc}): {text.strip()[-400:]}")
    ok, _ = data["build"].get(m.lab, (True, 0))
    if not ok:
        if m.build:
            return Run("killed", "build", ["(build)"])
        msg = next((r["message"] for r in data["results"] if r["message"]), "")
        return Run("broken", "does not build: " + build_error(msg))
    results = [r for r in data["results"] if r["lab"] == m.lab]
    if not results:
        return Run("broken", f"no test of {m.lab} ran (exit {rc})")
    failed = [r for r in results if not r["passed"]]
    run = Run("killed" if failed else "survived", "tests" if failed else "",
              [short(r["name"]) for r in failed],
              {short(r["name"]): r.get("seed") for r in results},
              {short(r["name"]): (r["message"] or "").strip().split("\n")[0][:200] for r in failed},
              full=[r["message"] or "" for r in failed])
    return run


def build_error(log):
    """The compiler's first error line of a build log, its paths relative to the submission."""
    log = re.sub(r"/\S*/submission/starter/", "", log)
    first = next((l.strip() for l in log.splitlines() if "error" in l and "build error:" not in l), "")
    return first[:300] or " ".join(log.split())[:300]


def short(name):
    return name.removeprefix("test_")


# ---- the whole suite --------------------------------------------------------------------
def run_all(mutants, repeat, jobs, timeout, progress=None):
    """Grade every well-formed mutant `repeat` times (equivalent ones once), `jobs`
    at a time; {mutant path: [Run]} and the list of processes left behind."""
    todo = [(m, i) for i in range(repeat) for m in mutants
            if not m.problem and (i == 0 or not m.equivalent)]
    runs = {m.path: [] for m in mutants}
    leftovers = []
    lock = threading.Lock()

    def one(item):
        m, _ = item
        r = grade_once(m, timeout, leftovers)
        with lock:
            runs[m.path].append(r)
            if progress:
                progress(m, r)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))
    return runs, leftovers


def judge(m, rs, repeat):
    """(verdict word, failure or "") for one mutant's runs."""
    if m.problem:
        return "malformed", f"{m.lab}/{m.name}: malformed: {m.problem}"
    broken = [r for r in rs if r.status == "broken"]
    if broken:
        return "broken", f"{m.lab}/{m.name}: broken mutant: {broken[0].reason}"
    killed = sum(r.status == "killed" for r in rs)
    if m.equivalent:
        if killed:
            return "equivalent?", (f"{m.lab}/{m.name}: marked equivalent, yet killed by "
                                   f"{', '.join(rs[0].killers)}: its header is wrong")
        return "equivalent", ""
    if killed == len(rs) and m.message:
        unnamed = [r for r in rs if r.reason == "tests"
                   and not any(re.search(m.message, t, re.I) for t in r.full)]
        if unnamed:
            first = next(iter(unnamed[0].messages.values()), "")
            return "message?", (f"{m.lab}/{m.name}: killed, but no failure message matches "
                                f"/{m.message}/ (first: {first[:160]!r})")
    if killed == len(rs):
        return "killed", ""
    if killed == 0:
        return "survived", f"{m.lab}/{m.name}: survived every run ({m.cls}: {m.what})"
    return "some seeds", (f"{m.lab}/{m.name}: killed in {killed} of {len(rs)} runs only: "
                          f"a test to fix ({m.cls}: {m.what})")


def report(mutants, runs, repeat, out=sys.stdout):
    """Print a table per lab; return (failures, summary dict for --json)."""
    failures, labs = [], {}
    for m in mutants:
        labs.setdefault(m.lab, []).append(m)
    summary = {}
    for lab, ms in labs.items():
        print(f"\n{lab}", file=out)
        print(f"  {'mutant':<38} {'class':<8} {'verdict':<18} killed by", file=out)
        counts = {"killed": 0, "survived": 0, "equivalent": 0, "broken": 0}
        rows = []
        for m in ms:
            rs = runs.get(m.path, [])
            word, failure = judge(m, rs, repeat)
            if failure:
                failures.append(failure)
            killed = sum(r.status == "killed" for r in rs)
            counts[{"equivalent": "equivalent", "killed": "killed", "message?": "killed", "broken": "broken",
                    "malformed": "broken"}.get(word, "survived")] += 1
            shown = word if len(rs) <= 1 or word in ("malformed", "broken") else f"{word} {killed}/{len(rs)}"
            killers = sorted({k for r in rs for k in r.killers})
            names = ", ".join(killers[:4]) + (f" +{len(killers) - 4}" if len(killers) > 4 else "")
            if word in ("broken", "malformed"):
                names = (m.problem or next(r.reason for r in rs if r.status == "broken"))[:110]
            print(f"  {m.name:<38} {m.cls or '?':<8} {shown:<18} {names}", file=out)
            rows.append({"mutant": m.name, "file": str(m.path.relative_to(KIT)) if m.path.is_relative_to(KIT)
                         else str(m.path), "class": m.cls, "what": m.what, "equivalent": m.equivalent,
                         "verdict": word, "killed_runs": killed, "runs": len(rs),
                         "killed_by": killers,
                         "runs_detail": [{"status": r.status, "reason": r.reason, "killers": r.killers,
                                          "seeds": r.seeds, "messages": r.messages,
                                          "seconds": round(r.seconds, 2)} for r in rs]})
        n = len(ms)
        live = n - counts["equivalent"]
        rate = f"{100 * counts['killed'] / live:.0f}%" if live else "n/a"
        broken = f" / {counts['broken']} broken" if counts["broken"] else ""
        print(f"  {lab}: {counts['killed']} killed / {counts['survived']} survived / "
              f"{counts['equivalent']} equivalent{broken} of {n} ({rate})", file=out)
        summary[lab] = dict(counts, total=n, rate=rate, mutants=rows)
    return failures, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", action="append", default=[])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds a grading may take")
    ap.add_argument("--json")
    ap.add_argument("--sample", type=int, help="grade this many mutants per lab (rotating by day)")
    ap.add_argument("--day", help="with --sample: the day the choice is made for (YYYY-MM-DD)")
    ap.add_argument("--messages", action="store_true",
                    help="only the planted bugs whose header names the message (`# message:`)")
    ap.add_argument("--list", action="store_true", help="list the mutants, check they apply; grade none")
    ap.add_argument("files", nargs="*", help="mutant patches (default: grader/mutants/<lab>/*.patch)")
    args = ap.parse_args()
    labs = resolve_labs(args.lab)
    mutants = load(labs, args.files)
    if args.messages:
        mutants = [m for m in mutants if m.message]
    if args.sample:
        day = datetime.date.fromisoformat(args.day) if args.day else datetime.date.today()
        mutants = sample(mutants, args.sample, day)
    if not mutants:
        sys.exit("mutants: no mutants found" + (f" for {', '.join(labs)}" if labs else ""))
    if args.list:
        sys.exit(list_mutants(mutants))
    t0 = time.monotonic()
    runs, leftovers = run_all(mutants, max(1, args.repeat), args.jobs, args.timeout)
    failures, summary = report(mutants, runs, args.repeat)
    failures += [f"QEMU or build left behind: {l}" for l in leftovers]
    seconds = time.monotonic() - t0
    graded = sum(len(rs) for rs in runs.values())
    print(f"\n{len(mutants)} mutants, {graded} gradings in {seconds:.1f}s "
          f"({seconds / max(graded, 1):.1f}s a grading, {args.jobs} at a time)")
    for f in failures:
        print(f"FAIL {f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"repeat": args.repeat, "seconds": round(seconds, 1),
                                               "gradings": graded, "labs": summary,
                                               "failures": failures}, indent=1))
    sys.exit(1 if failures else 0)


def list_mutants(mutants):
    """Print each mutant and whether it applies; 1 when one is malformed or does not apply."""
    bad = 0
    for m in mutants:
        problem = m.problem
        if not problem:
            try:
                check_applies(m)
            except ValueError as e:
                problem = str(e)
        bad += bool(problem)
        tag = "equivalent" if m.equivalent else m.cls
        print(f"{m.lab + '/' + m.name:<52} {tag:<10} {problem or m.what}")
    return 1 if bad else 0


if __name__ == "__main__":
    main()
