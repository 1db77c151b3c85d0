#!/usr/bin/python3
"""Grade a class: every submission in a folder, each in a pristine copy of the kit.

    batch.py SUBMISSIONS [--lab L]... [--out DIR] [--jobs N] [--timeout SECONDS] [--keep]

A submission is a directory, a tarball (.tar .tar.gz .tgz .tar.xz .tar.bz2), a
.zip or a git bundle (.bundle); its name without the extension is the student
id. Only the student files are taken from it (course/intake.py says how);
they are written into a fresh copy of the kit (course/kit.py), so nothing in a
submission can change the grader, the Makefile or the kernel core. Each lab
is built, then graded by grade.py, whose results come back over a pipe; a
grade run that dies or says nothing marks the submission `error`, never `ok`.

Output in DIR (default build/grade-class): gradebook.csv, gradebook.json and
logs/<student>.log (course/gradebook.py). Exits 0 once the gradebook is written
(refused, build-error and timeout are verdicts on submissions), 1 when the
grader itself failed on a submission (status error), 2 on a usage error, 143
(130) after SIGTERM (SIGINT): every process it started is killed at once and
the gradebook holds what was done, the rest `interrupted`.

The modules, one concern each: kit (the kit and its grading copy), intake
(reading a submission), procs (the processes a run starts), gradebook (the
files written); this one runs the grading.
"""
import argparse
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
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

GRADER = Path(__file__).resolve().parents[1]
KIT_ROOT = GRADER.parent
PY = "/usr/bin/python3"
sys.path.insert(0, str(GRADER))
from course import config  # noqa: E402
from course.gradebook import Outcome, compare, tail_text, unique_ids, write_gradebook  # noqa: E402
from course.exports import RosterError, read_roster  # noqa: E402
from course.intake import FORMATS, Refused, list_submissions, read_submission, student_id  # noqa: E402
from course.plagiarism import write_base, write_student  # noqa: E402
from course.kit import Kit, arrange_solutions, make_copy  # noqa: E402
from course.procs import TAG_VAR, Procs, clean_env, kill_group, kill_tagged  # noqa: E402
from harness import config as harness_config  # noqa: E402
from harness.text import shown  # noqa: E402

MAX_RESULTS = 16 << 20         # bytes of results a grade run may send back
# ---- grading one submission --------------------------------------------------------------
class Interrupted(BaseException):
    """SIGTERM or SIGINT reached the batch: stop grading, write what was done."""


class Batch:
    """Grades submissions against one kit; thread-safe; each submission in its own copy."""

    def __init__(self, kit, labs, timeout, work, keep=False, tag=None):
        self.kit = kit
        self.labs = labs
        self.timeout = timeout
        self.work = Path(work)
        self.keep = keep
        self.procs = Procs()
        self.tag = tag or f"{os.getpid()}-{int(time.time() * 1000)}"
        self.count = 0
        self.lock = threading.Lock()
        self.running = set()   # tags of submissions being graded
        self.template = None   # see prebuild()
        self.plagiarism = None  # a folder: the taken files go there too (course/plagiarism.py)
        # The build sandbox (labs/sandbox.sh), probed once: every build and
        # grade run of the batch gets the mode, and the line when it is degraded.
        self.sandbox = dict(zip(("KIT_SANDBOX", "KIT_SANDBOX_NOTE"), harness_config.sandbox_mode()))
        self.stopped = False

    def prebuild(self):
        """Build every graded lab's objects once from a pristine copy (the core,
        the kit side, the starter): each submission's copy starts from this
        template, timestamps kept, so make compiles only the student's files."""
        t = self.work / "template"
        make_copy(self.kit, t)
        env = clean_env({TAG_VAR: f"{self.tag}:template"})
        for lab in self.labs:
            arrange_solutions(self.kit, t, lab)
            r = self.procs.run(["make", "-s", "--no-print-directory", "-C", str(t / "labs" / lab),
                                "print-OBJS"], env, 60, capture=True)
            objs = r.stdout.decode().split()
            if r.returncode == 0 and objs:
                self.procs.run(["make", "-s", "-k", "-C", str(t / "labs" / lab)] + objs, env, 300)
        self.template = t

    def make_copy(self, copy, intake):
        """The submission's kit: the template (or a fresh copy) plus its files."""
        if self.template is None:
            make_copy(self.kit, copy)
        else:
            shutil.copytree(self.template, copy, symlinks=True,
                            ignore=shutil.ignore_patterns("*.elf", "*.iso", "iso"))
            labs = {dest.split("/")[1] for dest in intake.files}
            for lab in labs:  # never trust an object for a file the student replaced
                for d in (copy / "build").glob(f"*/*/obj/student-{lab}"):
                    shutil.rmtree(d)
        for dest, data in intake.files.items():
            (copy / dest).parent.mkdir(parents=True, exist_ok=True)
            (copy / dest).write_bytes(data)

    def stop(self):
        """Interrupted: grade nothing more, end every process a grade run started."""
        self.stopped = True
        self.procs.kill_all()
        kill_tagged(self.tag)

    def grade(self, submission, gradescope=False):
        """Outcome for one submission (never raises for the submission's faults)."""
        with self.lock:
            self.count += 1
            n = self.count
            tag = f"{self.tag}:{n}"
            self.running.add(tag)
        out = Outcome(student_id(submission), str(submission))
        t0 = time.monotonic()
        work = self.work / f"{n:03d}"
        try:
            if not self.stopped:
                work.mkdir(parents=True)
                self._grade(submission, out, work, tag, t0, gradescope)
        except Refused as e:
            out.status, out.reason = "refused", str(e)
            out.labs.clear()
            out.log.append(f"REFUSED: {e}")
        except Exception as e:  # the grader's own fault: this submission only
            import traceback
            out.status, out.reason = "error", f"grader error: {type(e).__name__}: {shown(str(e))}"
            out.log.append(traceback.format_exc())
        finally:
            kill_tagged(tag)
            with self.lock:
                self.running.discard(tag)
                running = set(self.running)
            self.procs.reap_orphans(running)
            out.seconds = time.monotonic() - t0
            if not self.keep:
                shutil.rmtree(work, ignore_errors=True)
        if self.stopped and (out.status in ("error", "timeout") or not out.log):
            # its processes were killed (or it never started): not a verdict on it
            out.status, out.reason = "interrupted", "the batch was stopped (SIGTERM or SIGINT) before " \
                "this submission was graded to the end"
            out.labs.clear()
        return out

    def _grade(self, submission, out, work, tag, t0, gradescope):
        out.log.append(f"submission: {shown(submission)}")
        intake = read_submission(submission, self.kit, work, self.procs, {TAG_VAR: tag})
        out.intake = intake
        out.submitted = intake.submitted
        if self.plagiarism is not None:
            write_student(out.student, intake.files, self.labs, self.plagiarism)
        out.log += intake.summary()
        has_files = {l for l in self.labs if any(f.startswith(f"starter/{l}/") for f in intake.files)}
        if not has_files:
            want = ", ".join(f"starter/{l}/{(self.kit.labs[l]['student'] or ['...'])[0]}" for l in self.labs)
            raise Refused(f"no student files for the graded lab(s): expected e.g. {want}")
        copy = work / "kit"
        self.make_copy(copy, intake)
        tmp = work / "tmp"
        tmp.mkdir()
        env = clean_env({"TMPDIR": str(tmp), TAG_VAR: tag})
        deadline = t0 + self.timeout
        for lab in self.labs:
            if lab not in has_files and not gradescope:
                # the starter's stubs fail every test (make check proves it): no need to boot them
                out.log.append(f"--- {lab}: no files in the submission: 0 points")
                out.labs[lab] = {"points": 0, "max": None, "build": None, "tests": []}
                continue
            missing = [f for f in self.kit.labs[lab]["student"] if f"starter/{lab}/{f}" not in intake.files]
            if missing:
                out.log.append(f"{lab}: not in the submission, the starter's stub is used: {' '.join(missing)}")
            if not self._grade_lab(lab, copy, work, env, deadline, out, gradescope):
                break

    def _run(self, cmd, env, deadline, log_file, cwd, results=None):
        """Run cmd into log_file within the deadline; its return code, or None on
        timeout. results: a list that receives what cmd writes to the pipe
        whose descriptor number replaces "{fd}" in its arguments."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        reader = None
        kw = {}
        if results is not None:
            r, w = os.pipe()
            cmd = [a.replace("{fd}", str(w)) for a in cmd]
            kw["pass_fds"] = (w,)
            reader = threading.Thread(target=read_bounded, args=(r, MAX_RESULTS, results), daemon=True)
        with open(log_file, "wb") as f:
            try:
                p = self.procs.start(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=f,
                                     stderr=subprocess.STDOUT, **kw)
            finally:
                if reader is not None:
                    os.close(w)  # the grade run holds the only write end now
            if reader is not None:
                reader.start()
            try:
                return p.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                kill_group(p.pid)
                kill_tagged(env[TAG_VAR])
                p.wait()
                return None
            finally:
                self.procs.finish(p)
                kill_tagged(env[TAG_VAR])  # nothing a grade run started outlives it,
                with self.lock:            # even one that cleared its environment
                    running = self.running - {env[TAG_VAR]}
                self.procs.reap_orphans(running)
                if reader is not None:
                    reader.join(5)

    def _grade_lab(self, lab, copy, work, env, deadline, out, gradescope):
        """Build, check and grade one lab in the copy; False when grading must stop."""
        arrange_solutions(self.kit, copy, lab)
        t = time.monotonic()
        build_log = work / f"{lab}.build.log"
        env = dict(env, **self.sandbox)
        # the build sandbox checks what the student files read while building
        rc = self._run(["make", "-s", "-C", str(copy / "labs" / lab)], env, deadline, build_log, copy)
        out.log.append(f"--- {lab}: build ({time.monotonic() - t:.1f}s)")
        out.log.append(tail_text(build_log))
        if rc is None:
            return self._timed_out(out, lab)
        refusal = sandbox_refusal(build_log)
        if refusal:
            raise Refused(f"{lab}: {refusal}")
        cmd = [PY, str(copy / "grader" / "grade.py"), "--lab", lab, "--json", "/dev/fd/{fd}", "--jobs", "1"]
        t = time.monotonic()
        grade_log = work / f"{lab}.grade.log"
        sent = []
        rc = self._run(cmd, env, deadline, grade_log, copy, results=sent)
        out.log.append(f"--- {lab}: grade.py ({time.monotonic() - t:.1f}s)")
        out.log.append(tail_text(grade_log))
        if rc is None:
            return self._timed_out(out, lab)
        data, why = grade_results(rc, b"".join(sent))
        if data is None:
            out.labs[lab] = {"points": 0, "max": 0, "build": None, "tests": []}
            out.fail("error", f"{lab}: {why}")
            out.log.append(f"ERROR: {lab}: {why}")
            return True
        rows = [r for r in data["results"] if r.get("lab") == lab]
        built = bool(data.get("build", {}).get(lab, [False])[0])
        out.labs[lab] = {
            "points": sum(r["points"] for r in rows if r["passed"]),
            "max": sum(r["points"] for r in rows), "build": built,
            "tests": [{"name": r["name"], "points": r["points"] if r["passed"] else 0,
                       "max": r["points"], "passed": r["passed"]} for r in rows]}
        if gradescope and isinstance(data.get("gradescope"), dict):
            out.gradescope.append(data["gradescope"])
        if not built:
            out.fail("build-error", f"{lab} does not build (the compiler's output is in the log)")
        return True

    def _timed_out(self, out, lab):
        out.status = "timeout"
        out.reason = f"grading took more than {self.timeout:g} s (stopped in {lab})"
        out.log.append(f"TIMEOUT: {out.reason}")
        return False


def read_bounded(fd, limit, into):
    """Read fd to its end into the list `into` (at most limit+1 bytes kept; the
    rest is read and dropped, so the writer never blocks), then close it."""
    kept = 0
    with os.fdopen(fd, "rb", buffering=0) as f:
        while chunk := f.read(1 << 16):
            if kept <= limit:
                into.append(chunk[:limit + 1 - kept])
                kept += len(into[-1])


def grade_results(rc, raw):
    """(the results a grade run sent, None) when it ended normally (exit 0 or
    1, JSON with its results), else (None, why it is the grader's failure)."""
    if rc < 0:
        return None, f"grade.py was killed by signal {-rc} ({signal.Signals(-rc).name})"
    if rc not in (0, 1):
        return None, f"grade.py failed (exit {rc})"
    if not raw:
        return None, f"grade.py stopped without results (exit {rc})"
    if len(raw) > MAX_RESULTS:
        return None, f"grade.py sent more than {MAX_RESULTS >> 20} MiB of results"
    try:
        data = json.loads(raw)
    except ValueError:
        return None, f"grade.py sent results that are not JSON ({len(raw)} bytes: cut short?)"
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or not all(
            isinstance(r, dict) and {"lab", "name", "points", "passed"} <= set(r) for r in data["results"]):
        return None, "grade.py sent results without their tests"
    return data, None


def sandbox_refusal(build_log):
    """Why the build sandbox refused the student files (labs/sandbox.sh's
    "kit: refused:" line in the build's output, said for the class's logs), or None."""
    with open(build_log, "rb") as f:  # each command's output is capped: this holds them all
        log = f.read(4 << 20).decode(errors="replace")
    m = re.search(r"^kit: refused: (.*?)(?: \(building (.*)\))?$", log, re.M)
    if not m:
        return None
    what, where = m.group(1), m.group(2) or "the student files"
    inc = re.match(r"#include of (.*): outside the files this build may read$", what)
    if inc:
        return f"{where} pulls in a file from outside the kit copy's sources for this lab: {inc.group(1)}"
    asm = re.match(r"the assembler directive '(.*)' reads another file$", what)
    if asm:
        return f"{where} uses the assembler directive '{asm.group(1)}', which reads other files while building"
    return f"{where}: {what}"


# ---- the command line -------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("submissions", help="folder of submissions")
    ap.add_argument("--lab", action="append", default=[], 
                    help="lab(s) to grade (repeatable, or several in one word; default: released labs)")
    ap.add_argument("--out", help="output folder (default build/grade-class)")
    ap.add_argument("--only", action="append", default=[], metavar="ID",
                    help="regrade these students only (repeatable); the gradebook goes to OUT "
                    "(default build/grade-class/regrade) and is compared with --compare's")
    ap.add_argument("--compare", metavar="GRADEBOOK_JSON",
                    help="print what changed against this gradebook.json (default: the one "
                    "this run replaces, or build/grade-class/gradebook.json with --only)")
    ap.add_argument("--plagiarism", action="store_true",
                    help="also write OUT/plagiarism/<lab>/ for JPlag or MOSS (course/plagiarism.py)")
    ap.add_argument("--roster", help="CSV of the class: id,name,email,lms_id (course/exports.py)")
    ap.add_argument("--course", help="a course file instead of the kit's course.toml (its deadlines, "
                    "late policy, weights and released labs; published solutions stay the kit's)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="submissions graded at once (default 2)")
    ap.add_argument("--timeout", type=float, default=0,
                    help="wall-time bound per submission in seconds (default 120 per lab)")
    ap.add_argument("--kit", default=str(KIT_ROOT), help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep each submission's kit copy")
    args = ap.parse_args(argv)

    # absolute before anything changes directory: git reads a bundle from its own
    folder = Path(os.path.abspath(args.submissions))
    if not folder.is_dir():
        print(f"batch: {shown(folder)} is not a folder of submissions", file=sys.stderr)
        return 2
    try:
        kit = Kit(args.kit)
    except config.CourseError as e:
        print(f"batch: {e}", file=sys.stderr)
        return 2
    try:  # --lab "01 02" as well as --lab 01 --lab 02; none: the labs the course file releases
        labs = [kit.resolve_lab(l) for l in " ".join(args.lab).split()]
        course = (config.parse(Path(args.course).read_text(), list(kit.labs), args.course) if args.course
                  else config.load(kit.root))
        labs = labs or course.released_labs(list(kit.labs))
        roster = read_roster(args.roster) if args.roster else None
    except (OSError, config.CourseError, RosterError) as e:
        print(f"batch: {e}", file=sys.stderr)
        return 2
    timeout = args.timeout or 120 * len(labs)
    default_out = kit.root / "build" / "grade-class"
    out_dir = (Path(os.path.abspath(args.out)) if args.out
               else default_out / "regrade" if args.only else default_out)
    previous_path = (Path(args.compare) if args.compare
                     else default_out / "gradebook.json" if args.only else out_dir / "gradebook.json")
    try:
        previous = json.loads(previous_path.read_text()) if previous_path.is_file() else None
    except (OSError, ValueError) as e:
        print(f"batch: {shown(str(previous_path))}: not a gradebook ({e}); nothing compared", file=sys.stderr)
        previous = None
    ignored = []
    subs = list_submissions(folder, ignored)
    if args.only:
        subs = [p for p in subs if student_id(p) in args.only]
        unknown = sorted(set(args.only) - {student_id(p) for p in subs})
        if unknown:
            print(f"batch: no submission named {', '.join(shown(u) for u in unknown)} in {shown(folder)}",
                  file=sys.stderr)
            return 2
        roster = {k: v for k, v in roster.items() if k in args.only} if roster else None
    notes = [f"ignored {shown(p.name)}: not a submission (a folder, {', '.join(FORMATS)})" for p in ignored]
    for n in notes:
        print(f"batch: note: {n}")
    work = Path(tempfile.mkdtemp(prefix="kit-batch-"))
    batch = Batch(kit, labs, timeout, work, keep=args.keep)
    if args.plagiarism:
        batch.plagiarism = out_dir / "plagiarism"
        shutil.rmtree(batch.plagiarism, ignore_errors=True)
        write_base(kit.root, labs, batch.plagiarism)
    print(f"batch: {len(subs)} submissions, lab(s) {' '.join(labs)}, {args.jobs} at once, "
          f"{timeout:g} s each at most")
    t0 = time.monotonic()
    caught = []

    def interrupt(signum, _frame):
        caught.append(signum)
        batch.stopped = True
        raise Interrupted()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, interrupt)
    outcomes, futures = {}, {}
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        if len(subs) > 1:
            batch.prebuild()
        futures.update({pool.submit(batch.grade, s): i for i, s in enumerate(subs)})
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=1, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=futures.get):
                o = outcomes[futures[f]] = f.result()
                points = o.total()[0]   # out of the class's maxima: the table at the end
                print(f"  {shown(o.student):<24} {o.status:<12} {points:>4} points ({o.seconds:.1f}s)"
                      + (f"  {shown(o.reason)[:100]}" if o.reason else ""), flush=True)
    except Interrupted:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        batch.stop()
        print(f"batch: {signal.Signals(caught[0]).name}: stopping; every grade run it started was killed",
              file=sys.stderr, flush=True)
        wait(futures, timeout=10)  # the running ones end once their processes did
        for f, i in futures.items():
            if i not in outcomes and f.done() and not f.cancelled():
                outcomes[i] = f.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        batch.procs.kill_all()
        kill_tagged(batch.tag)
        batch.procs.reap_orphans()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"batch: copies kept in {work}")
    for i, s in enumerate(subs):
        if i not in outcomes:
            o = outcomes[i] = Outcome(student_id(s), str(s))
            o.status, o.reason = "interrupted", "not graded: the batch was stopped first"
    outcomes = [outcomes[i] for i in range(len(subs))]
    unique_ids(outcomes)
    elapsed = time.monotonic() - t0
    if previous is not None and previous_path == out_dir / "gradebook.json":
        (out_dir / "gradebook.previous.json").write_text(json.dumps(previous, indent=1) + "\n")
    rows = write_gradebook(outcomes, labs, out_dir, elapsed, course, roster, notes)
    if previous is not None:
        changes = compare(previous, rows)
        print(f"batch: against {shown(str(previous_path))}: "
              + (f"{len(changes)} change(s)" if changes else "no change"))
        for line in changes:
            print(f"  {line}")
    late = any(v["days_late"] for r in rows for v in r["late"].values())
    print(f"batch: {'student':<24} {'status':<12} {'points':>9}" + ("  after the late policy" if late else ""))
    for r in rows:
        print(f"  {shown(r['student']):<24} {r['status']:<12} {r['points']:>4}/{r['max']:<4}"
              + (f"  {r['final_total']:g} ({r['late_days_used']} late day(s) used, "
                 f"{sum(v['days_late'] for v in r['late'].values())} lab-day(s) late)"
                 if any(v["days_late"] for v in r["late"].values()) else ""))
    counts = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    print(f"batch: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))} in {elapsed:.1f}s; "
          f"gradebook in {shown(out_dir)}/gradebook.csv (and .json, logs/)", flush=True)
    if caught:
        return 128 + caught[0]
    return 1 if any(o.status == "error" for o in outcomes) else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # a worker thread still inside a system call does not hold the exit up
