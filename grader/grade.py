#!/usr/bin/python3
"""Grade the kit's labs: build each lab's kernel, run its tests, print a score table.

    grade.py [--lab LAB]... [--test WORDS] [--solution | --submission DIR]
             [--gradescope results.json] [--json results.json] [--jobs N] [--quiet]

Exits 0 at full marks, 1 below, 2 on a usage error.
"""
import argparse
import atexit
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GRADER = Path(__file__).resolve().parent
sys.path.insert(0, str(GRADER))
# Keep pytest's rewritten test modules in __pycache__ (git ignores it) even where
# PYTHONDONTWRITEBYTECODE is set: rewriting them again costs ~0.3 s a run.
sys.dont_write_bytecode = False
from harness import config  # noqa: E402
from harness.text import strip_control, strip_introspection  # noqa: E402


def lab_tests(lab):
    return sorted(GRADER.glob(f"test_{lab[:2]}_*.py"))


def resolve_lab(name):
    labs = config.labs()
    if name in labs:
        return name
    hits = [l for l in labs if l.startswith(name) or l[3:] == name]
    if len(hits) != 1:
        sys.exit(f"grade: unknown lab '{name}' (labs: {' '.join(labs)})")
    return hits[0]


def make_path(path, key):
    """path as the build rules can take it: make names files by words, so a
    path with a space, a quote or another character make reads is given as a
    link to it, <build folder>/submissions/<key>, instead (the path stays data)."""
    if re.fullmatch(r"[A-Za-z0-9_./+@~-]+", path):
        return path
    link = config.build_root() / "submissions" / key
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f"{key}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(path, tmp)
    os.replace(tmp, link)
    return str(link)


# A build's bounds, beside the sandbox's own per command (labs/sandbox.sh): the
# whole build's wall time, and what of make's output is kept (its first and
# last halves; the rest is read and dropped, so make never blocks).
BUILD_SECONDS = float(os.environ.get("KIT_BUILD_TIMEOUT") or 120)
BUILD_OUTPUT = 256 << 10


def prune_submission_builds(root, keep):
    """Remove the build folders (and links, see make_path) of submissions whose
    folder is gone: each build folder of a submission names its source in a file
    `source`, so a TA's kit that graded hundreds of hand-ins does not keep a
    folder for each. Folders without that file are left alone."""
    gone = set()
    for src in root.glob("*/submission-*/source"):
        folder = src.parent
        if folder.name == keep:
            continue
        try:
            path = src.read_text(errors="surrogateescape")
        except OSError:
            continue
        if path and not os.path.exists(path):
            shutil.rmtree(folder, ignore_errors=True)
            gone.add(folder.name[len("submission-"):])
    for key in gone:
        link = root / "submissions" / key
        if link.is_symlink() and not link.exists():
            link.unlink(missing_ok=True)


def record_submission(root, labs, variant, path):
    """Name the submission in each of its build folders (prune_submission_builds)."""
    for lab in labs:
        folder = root / lab / variant
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "source").write_text(path, errors="surrogateescape")


def run_make(cmd, deadline):
    """Run make in a process group of its own within the deadline (monotonic
    time); (return code, output). On timeout the group is ended, and with it
    the sandboxed commands (their `timeout` passes the signal on): the output
    then ends with a "kit: build stopped" line."""
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True, env=dict(os.environ, KIT_BUILD_TAG=tag))
    late = threading.Event()

    def stop():
        late.set()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except OSError:
                pass
            for pid in tagged(tag):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            time.sleep(1)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), stop)
    timer.start()
    head, tail, dropped = bytearray(), bytearray(), 0
    try:
        while chunk := p.stdout.read1(1 << 16):
            room = BUILD_OUTPUT // 2 - len(head)
            head += chunk[:max(room, 0)]
            tail += chunk[max(room, 0):]
            if len(tail) > BUILD_OUTPUT // 2:
                dropped += len(tail) - BUILD_OUTPUT // 2
                del tail[:len(tail) - BUILD_OUTPUT // 2]
        rc = p.wait()
    finally:
        timer.cancel()
        p.stdout.close()
    out = head.decode(errors="replace")
    if dropped:
        out += f"\n[... {dropped} bytes of build output dropped]\n"
    out += tail.decode(errors="replace")
    if late.is_set():
        out += f"\nkit: build stopped: the whole build took more than {BUILD_SECONDS:g} s\n"
        rc = rc or 1
    return rc, out


def tagged(tag):
    """Processes whose environment carries KIT_BUILD_TAG=tag: what a make run
    started, in a process group of its own (each sandboxed command's `timeout`)."""
    needle = f"KIT_BUILD_TAG={tag}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def file_id(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def watch_link(elf, before, build, done):
    """Tell `build` once the kernel ELF is replaced: the link writes it in a
    private folder and renames it into place, so a new file is a whole one."""
    while not done.wait(0.005):
        now = file_id(elf)
        if now is not None and now != before:
            build.linked()
            return


def build(lab, variant_args, logs):
    """make the lab's kernel into the folder the tests will look in, in one
    make run: tests that boot the ELF with -kernel start once it is linked
    (watch_link), the others once the ISO is made too; report both stages to
    config's Build for `lab`. Return (lab, ok, seconds)."""
    t = time.monotonic()
    deadline = t + BUILD_SECONDS
    b = config.track_build(lab)
    make = ["make", "-s", "-C", str(config.KIT / "labs" / lab), f"BUILD={config.lab_dir(lab)}"] + variant_args
    elf = config.lab_dir(lab) / "kernel.elf"
    done = threading.Event()
    threading.Thread(target=watch_link, args=(elf, file_id(elf), b, done), daemon=True).start()
    out, ok = "", False
    try:
        rc, out = run_make(make, deadline)
        ok = rc == 0
    except OSError as e:
        out += f"{e}\n"
    finally:
        done.set()
        (logs / f"{lab}.log").write_text(out)
        b.finished(ok, out)
    return lab, ok, time.monotonic() - t


def start_builds(labs, make_args, logs):
    """Build the labs in two background threads; returns (results, threads)."""
    todo, results = list(labs), {}

    def worker():
        while True:
            try:
                lab = todo.pop(0)  # list.pop is atomic
            except IndexError:
                return
            results[lab] = build(lab, make_args, logs)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(2, len(labs)))]
    for t in threads:
        t.start()
    return results, threads


def finish_builds(labs, results, threads):
    for t in threads:
        t.join()
    return [results[lab] for lab in labs]


class Collector:
    """pytest plugin: one record per test (works under pytest-xdist too)."""

    def __init__(self):
        self.results = []
        self.setup_time = {}

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if report.when == "setup":
            self.setup_time[report.nodeid] = report.duration
        failed_setup = report.when == "setup" and not report.passed
        if report.when == "call" or failed_setup or (report.when == "teardown" and report.failed):
            if report.when == "teardown":
                for r in self.results:
                    if r["nodeid"] == report.nodeid:
                        r["passed"] = False
                        r["message"] = strip_control(report.longreprtext[-2000:])
                return
            msg = ""
            if not report.passed:
                msg = props.get("message") or short_message(
                    getattr(report, "longreprtext", "") or str(report.longrepr))
                msg = strip_control(strip_introspection(msg))  # it may quote the kernel
            self.results.append({
                "nodeid": report.nodeid, "name": report.nodeid.split("::")[-1],
                "lab": props.get("lab"), "points": props.get("points", 0),
                "passed": report.passed, "message": msg,
                "seconds": report.duration + self.setup_time.get(report.nodeid, 0),
                "seed": props.get("seed"),
            })


def short_message(text):
    """The part of a pytest failure a student needs: the assertion's message,
    not the traceback or pytest's expression introspection."""
    lines = text.rstrip().splitlines()
    err = [l[2:].rstrip() for l in lines if l.startswith("E ")]
    if not err:
        return "\n".join(lines[-25:])
    keep = []
    for l in err:
        s = l.strip()
        if keep and (s.startswith("assert ") or s.startswith("+") or s.startswith("where ")
                     or s.startswith("Use -v")):
            break
        keep.append(l)
    return "\n".join(keep)[-2500:]


# The harness's stub verdict (harness/machine.py), wherever a test quotes it.
STUB = re.compile(r"not implemented: (\S+) \(Lab (\d+)\) is still a stub(?:; write it in (\S+?))?\.?$", re.M)
STUB_LINE = 110  # a stub's line lists the tests it stops while they fit in this many columns (one at least)


def stub_of(r):
    """(function, lab number, file) of the stub a failed test stopped at, or None."""
    m = not r["passed"] and STUB.search(r["message"] or "")
    return (m.group(1), int(m.group(2)), m.group(3) or "") if m else None


def repeat_command(lab, seed, make_vars):
    """The command that runs `lab`'s tests again with the same random values."""
    words = [f"KIT_SEED={seed}", "make", "grade", f"LAB={lab[:2]}"]
    return " ".join(words + [f"{k}={shlex.quote(v)}" for k, v in make_vars])


def start_here(results):
    """The first thing to do when tests stop at stubs: the stub of the earliest
    lab that stops the most tests (two lines), else no line."""
    stops = {}
    for r in results:
        stub = stub_of(r)
        if stub:
            stops.setdefault(stub, []).append(r)
    if not stops:
        return []
    (fn, lab_no, path), rows = min(stops.items(), key=lambda kv: (kv[0][1], -len(kv[1])))
    labs = sorted({r["lab"] for r in rows})
    where = f" in {path}" if path else ""
    own = next((l for l in config.labs() if l.startswith(f"{lab_no:02d}-")), None)
    handout = f" (handouts/{own}.md)" if own else ""
    return [f"Start here: {fn}{where} is still a stub (Lab {lab_no}); {len(rows)} test"
            f"{'s' if len(rows) > 1 else ''} in {len(labs)} lab{'s' if len(labs) > 1 else ''} stop at it.",
            f"Write it{handout}, then: make grade LAB={lab_no:02d}"]


def stub_lines(lab, rows):
    """One line per stub that stopped some of `rows` (a lab's results), naming
    the tests it stops; and the rows no stub stopped."""
    stops, rest = {}, []
    for r in rows:
        stub = stub_of(r)
        if stub:
            stops.setdefault(stub, []).append(r)
        else:
            rest.append(r)
    lines = []
    for (fn, lab_no, path), hit in stops.items():
        own = lab.startswith(f"{lab_no:02d}-")
        if own and f"starter/{lab}/" in path:  # the student's own folder for this lab: the name says it
            path = path.rsplit(f"starter/{lab}/", 1)[1]
        where = ", ".join(([] if own else [f"Lab {lab_no}"]) + ([path] if path else []))
        head = f"  stub {fn}" + (f" ({where})" if where else "")
        lost = sum(r["points"] for r in hit)
        if len(hit) == len(rows):
            lines.append(f"{head}: stops all {len(hit)} tests, {lost} points")
            continue
        line = f"{head}: stops {len(hit)} test{'s' if len(hit) > 1 else ''}, {lost} points"
        names = [r["name"].removeprefix("test_") for r in hit]
        for k in range(len(names), 0, -1):  # as many names as fit, one at least
            more = f", +{len(names) - k} more" if k < len(names) else ""
            if k == 1 or len(f"{line}: {', '.join(names[:k])}{more}") <= STUB_LINE:
                lines.append(f"{line}: {', '.join(names[:k])}{more}")
                break
    return lines, rest


def print_table(results, labs, variant, build_info, out, seed=None, make_vars=()):
    """The score table: a line to start with when tests stop at stubs, then per
    lab a header (with the command that repeats the run), one line per stub,
    one per other test (a failure's message under it), the score."""
    for line in start_here(results):
        print(line, file=out)
    total = earned = 0
    for lab in labs:
        rows = [r for r in results if r["lab"] == lab]
        secs = build_info.get(lab, (True, 0))[1]
        again = f"   repeat: {repeat_command(lab, seed, make_vars)}" if seed else ""
        print(f"\n{lab} ({variant.split('-')[0]})   build {secs:.1f}s{again}", file=out)
        lab_total = sum(r["points"] for r in rows)
        lab_earned = sum(r["points"] for r in rows if r["passed"])
        stubs, rest = stub_lines(lab, rows)
        for line in stubs:
            print(line, file=out)
        for r in rest:
            name = r["name"].removeprefix("test_")
            got = r["points"] if r["passed"] else 0
            verdict = "OK  " if r["passed"] else "FAIL"
            print(f"  {name:.<52} {verdict} {got:>3}/{r['points']:<3} ({r['seconds']:.1f}s)", file=out)
            if not r["passed"] and r["message"]:
                for line in strip_control(r["message"]).splitlines()[:14]:
                    print(f"      {line}", file=out)
        if not rows:
            print("  (no tests)", file=out)
        print(f"  score {lab_earned}/{lab_total}", file=out)
        total += lab_total
        earned += lab_earned
    print(f"\nTotal: {earned}/{total}", file=out)
    return earned, total


def gradescope(results):
    """Gradescope's results.json for these results."""
    tests = [{"name": f"{r['lab']}: {r['name']}", "score": r["points"] if r["passed"] else 0,
              "max_score": r["points"], "output": r["message"] or "passed",
              "visibility": "visible"} for r in results]
    return {"score": sum(t["score"] for t in tests), "tests": tests}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", action="append", default=[])
    ap.add_argument("--test", default="", help="run only tests whose name contains these words")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--solution", action="store_true")
    g.add_argument("--submission")
    ap.add_argument("--published", metavar="LABS",
                    help="earlier labs linked from their solutions ('all', or names; default course.toml)")
    ap.add_argument("--gradescope")
    ap.add_argument("--json")
    ap.add_argument("--jobs", type=int, default=0, help="pytest-xdist workers (0: one per lab, at most 2)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--prebuilt", metavar="ROOT",
                    help="grade kernels already built in ROOT/<lab>/<variant>/ (no make)")
    ap.add_argument("--variant", help="with --prebuilt: the variant folder name")
    args = ap.parse_args()

    labs = [resolve_lab(l) for l in args.lab] or config.labs()
    try:
        seed = config.run_seed()  # in the environment from here: pytest and its workers share it
    except config.SeedError as e:
        sys.exit(f"grade: {e}")
    make_vars = [("TEST", args.test)] * bool(args.test) + [("SOLUTION", "1")] * args.solution \
        + [("SUBMISSION", args.submission)] * bool(args.submission) \
        + [("PUBLISHED", args.published)] * (args.published is not None)
    variant = "solution" if args.solution else "submission" if args.submission else "starter"
    submission = os.path.abspath(args.submission) if args.submission else None
    key = hashlib.sha1(submission.encode(errors="surrogateescape")).hexdigest()[:12] if submission else ""
    make_args = ["SOLUTION=1"] if args.solution else \
        [f"SUBMISSION={make_path(submission, key)}"] if submission else []
    if args.published is not None:
        names = config.labs() if args.published == "all" else \
            [resolve_lab(l) for l in args.published.replace(",", " ").split()]
        make_args.append("PUBLISHED=" + " ".join(names))
    if args.submission:  # one build folder per submission path (as labs/rules.mk names it)
        variant = "submission-" + key
    os.environ["KIT_VARIANT"] = variant
    if args.submission:
        os.environ["KIT_SUBMISSION"] = os.path.abspath(args.submission)
        if not args.prebuilt:
            prune_submission_builds(config.build_root(), variant)
            record_submission(config.build_root(), labs, variant, submission)

    t0 = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="kit-build-"))
    # the build logs live as long as this run (every grading used to leave one behind)
    atexit.register(shutil.rmtree, logs, True)
    if args.prebuilt:
        variant = args.variant or variant
        os.environ["KIT_VARIANT"] = variant
        os.environ["KIT_BUILD"] = os.path.abspath(args.prebuilt)
        built = [(lab, (Path(args.prebuilt) / lab / variant / "kernel.elf").exists(), 0.0)
                 for lab in labs]
        for lab, ok, _ in built:
            if not ok:
                (logs / f"{lab}.log").write_text(f"no kernel in {args.prebuilt}/{lab}/{variant}\n")
    files = [str(f) for lab in labs for f in lab_tests(lab)]
    jobs = args.jobs or min(2, len(set(f.split("/")[-1][5:7] for f in files)))
    builder = None
    if not args.prebuilt:
        # the build sandbox, probed once for every make of this run
        os.environ["KIT_SANDBOX"], note = config.sandbox_mode()
        config.export_make_jobs()
        os.environ["KIT_SANDBOX_NOTE"] = note  # said here: make says nothing
        if note and not args.quiet:
            print(note, flush=True)
        # One process (no pytest-xdist): pytest starts while make runs, and each
        # machine waits for the stage it boots from (config.Build). pytest-xdist
        # workers are processes of their own: they start once every build ended.
        for lab in labs:
            config.track_build(lab)
        builder = start_builds(labs, make_args, logs)
        if jobs > 1 or not files:
            built = finish_builds(labs, *builder)
    os.environ["KIT_BUILD_LOGS"] = str(logs)
    if builder is None or jobs > 1 or not files:
        os.environ["KIT_BUILD_FAILED"] = ",".join(lab for lab, ok, _ in built if not ok)

    collector = Collector()
    if files:
        import pytest
        pargs = files + ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--tb=line",
                         "-o", "console_output_style=classic", "--no-header", "-rN"]
        # pytest's built-in plugins the lab tests do not use: not importing
        # them takes ~0.1 s off every run
        for plugin in ("doctest", "junitxml", "pastebin", "nose", "unittest", "legacypath", "tmpdir",
                       "monkeypatch", "recwarn", "setuponly", "setupplan", "stepwise", "debugging",
                       "faulthandler", "python_path", "logging"):
            pargs += ["-p", f"no:{plugin}"]
        if args.test:
            pargs += ["-k", args.test]
        # Only the plugins the run needs: autoloading every installed one costs ~0.1 s.
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        if jobs > 1:
            pargs += ["-p", "xdist.plugin", "-n", str(jobs), "--dist", "loadfile"]
        out = sys.stdout if not args.quiet else open(os.devnull, "w")
        saved = sys.stdout
        sys.stdout = open(os.devnull, "w")  # pytest's own progress dots: the table says it all
        try:
            pytest.main(pargs, plugins=[collector])
        finally:
            sys.stdout = saved
    if builder is not None:
        built = finish_builds(labs, *builder)  # a build no test waited for (none selected) ends too
    build_info = {lab: (ok, secs) for lab, ok, secs in built}
    out = open(os.devnull, "w") if args.quiet else sys.stdout
    earned, total = print_table(collector.results, labs, variant, build_info, out, seed, make_vars)
    print(f"({time.monotonic() - t0:.1f}s)", file=out)
    if args.gradescope:
        Path(args.gradescope).write_text(json.dumps(gradescope(collector.results), indent=2))
    if args.json:  # a file, or a pipe to the class grader (/dev/fd/N)
        Path(args.json).write_text(json.dumps({"variant": variant, "seed": seed, "results": collector.results,
                                               "build": build_info,
                                               "gradescope": gradescope(collector.results)}, indent=1))
    sys.exit(0 if total and earned == total else 1)


if __name__ == "__main__":
    main()
