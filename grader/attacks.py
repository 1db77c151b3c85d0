#!/usr/bin/python3
"""The abuse corpus's attacks on the grading pipeline itself: submissions
that try to reach past their kernel (kit internals, files outside the staged
tree, unbounded builds), hostile intake (FIFOs, git bombs, formula ids,
forged log lines) and hostile paths. The kernel cheats are in cheats.py.

    attacks.py [--case NAME]... [--sample] [--jobs N]

Every case must end with 0 points, a verdict matching its pattern, within
CASE_SECONDS and PEAK_BYTES of grader memory (the largest process the case
started, measured by getrusage), with no QEMU left and nothing written into
the kit outside build/. Exits non-zero on any problem. `make check` runs
the --sample cases; `make check-cheats` runs them all.
"""
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

GRADER = Path(__file__).resolve().parent
KIT = GRADER.parent
sys.path.insert(0, str(GRADER))
from cheats import CONTROL, qemu_leftovers  # noqa: E402
PY = "/usr/bin/python3"
CASE_SECONDS = 60
PEAK_BYTES = 1 << 30
FAST_ENV = {"KIT_BOOT_TIMEOUT": "3", "KIT_COMMAND_TIMEOUT": "2"}


def run_bounded(cmd, env, cwd=None, timeout=CASE_SECONDS * 2):
    """subprocess.run in a session of its own, the whole session killed on timeout."""
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, err = p.communicate()
        err += f"\n(killed after {timeout} s)"
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


@dataclass
class Case:
    name: str
    what: str        # one sentence: the attack
    lab: str         # the lab it attacks ("" for intake cases that grade none)
    expect: str      # pattern the verdict must match
    sample: bool = True


def first_student_file(lab):
    text = (KIT / "labs" / lab / "lab.mk").read_text().replace("\\\n", " ")
    m = re.search(r"^LAB_STUDENT_SRCS\s*:?=\s*(\S+)", text, re.M)
    return m.group(1)


def solutions_submission(root):
    """A submission folder holding every lab's solution as the student's files."""
    sub = root / "submission"
    for d in sorted((KIT / "solutions").iterdir()):
        shutil.copytree(d, sub / "starter" / d.name, dirs_exist_ok=True)
    return sub


def starter_submission(root):
    """A submission folder holding every lab's starter files."""
    sub = root / "submission"
    shutil.copytree(KIT / "starter", sub / "starter")
    return sub


def grade_submission(case, root, edit, make=solutions_submission):
    """Grade case.lab from make(root) (the solutions) with edit(path of the lab's
    first student file) applied; (points, verdict text)."""
    sub = make(root)
    edit(sub / "starter" / case.lab / first_student_file(case.lab))
    out = root / "result.json"
    env = dict(os.environ, TMPDIR=str(root / "tmp"), **FAST_ENV)
    (root / "tmp").mkdir(exist_ok=True)
    run_bounded([PY, str(GRADER / "grade.py"), "--quiet", "--lab", case.lab, "--submission", str(sub),
                 "--json", str(out), "--jobs", "1"], env)
    data = json.loads(out.read_text())
    rows = [r for r in data["results"] if r["lab"] == case.lab]
    points = sum(r["points"] for r in rows if r["passed"])
    verdicts = sorted({r["message"] for r in rows if not r["passed"]})
    if not rows:
        verdicts = ["no test ran"]
    return points, "\n".join(verdicts)


def appended(text):
    return lambda path: path.write_text(path.read_text() + "\n" + text + "\n")


def unpublished_solution_file():
    """An absolute path of a solution file no earlier lab publishes (the last lab's)."""
    lab = sorted(d.name for d in (KIT / "solutions").iterdir() if d.name.startswith("05"))[-1]
    return KIT / "solutions" / lab / first_student_file(lab)


# ---- source attacks (make grade SUBMISSION=) ---------------------------------------
def incbin_macro(case, root):
    secret = unpublished_solution_file()
    # the directive's name is glued from string pieces inside a macro: no
    # line of the source holds ".incbin", only the assembler's input does
    return grade_submission(case, root, appended(
        '#define KIT_EMBED(dir, file) __asm__(".section .rodata\\n" "." dir " \\"" file "\\"\\n.previous")\n'
        f'KIT_EMBED("inc" "bin", "{secret}");'))


def include_solution(case, root):
    return grade_submission(case, root, appended(f'#include "{unpublished_solution_file()}"'))


def include_dev_zero(case, root):
    return grade_submission(case, root, appended('#include "/dev/zero"'))


def huge_array(case, root):
    return grade_submission(case, root, appended("char kit_attack_big[1u << 30] = {1};"))


def self_include(case, root):
    def edit(path):
        (path.parent / "again.h").write_text('#include "again.h"\n#include "again.h"\n')
        path.write_text('#include "again.h"\n' + path.read_text())
    return grade_submission(case, root, edit)


ABUSE = GRADER / "abuse"
PATCH_HEADER = re.compile(r'^# tries: (.*); verdict: build, "(.*)"$')


def kit_internal(case, root):
    """A starter patched (grader/abuse/<case>.patch) to call a kit internal."""
    def edit(_):
        subprocess.run(["patch", "-s", "-p1", "-d", str(root / "submission"), "-i",
                        str(ABUSE / f"{case.name}.patch")], check=True)
    return grade_submission(case, root, edit, make=starter_submission)


def patch_cases():
    """One case per grader/abuse/kit-internal-*.patch, from its header line."""
    cases = []
    for patch in sorted(ABUSE.glob("kit-internal-*.patch")):
        m = PATCH_HEADER.match(patch.read_text().splitlines()[0])
        lab = next(d.name for d in (KIT / "labs").glob(patch.stem.split("-")[2] + "-*"))
        cases.append(Case(patch.stem, m.group(1), lab, "build error[\\s\\S]*" + re.escape(m.group(2)),
                          sample=patch.stem == "kit-internal-02"))
    return cases


# ---- intake attacks (make grade-class) ---------------------------------------------
def run_batch(root, folder, args=(), cwd=None):
    out = root / "out"
    env = dict(os.environ, TMPDIR=str(root / "tmp"), **FAST_ENV)
    (root / "tmp").mkdir(exist_ok=True)
    r = run_bounded([PY, str(GRADER / "course" / "batch.py"), str(folder), "--lab", "01",
                     "--out", str(out), "--timeout", str(CASE_SECONDS - 10), *args], env, cwd=cwd)
    book = json.loads((out / "gradebook.json").read_text())
    return r, book, out


def row_verdict(book, out):
    points = sum(s["points"] for s in book["students"])
    verdict = "\n".join(f"{s['status']}: {s['reason']}" for s in book["students"])
    return points, verdict


def fifo(case, root):
    folder = root / "class"
    folder.mkdir()
    os.mkfifo(folder / "x.tar")
    _, book, out = run_batch(root, folder)
    return row_verdict(book, out)


def git_bomb(case, root):
    """A bundle of a few KB whose tree names 10^7 paths (one tree object reused
    at every level of seven)."""
    repo = root / "bomb"
    env = dict(os.environ, GIT_AUTHOR_NAME="x", GIT_AUTHOR_EMAIL="x@x", GIT_COMMITTER_NAME="x",
               GIT_COMMITTER_EMAIL="x@x", HOME=str(root))

    def git(*args, data=None):
        return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True,
                              env=env, check=True).stdout.decode().strip()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=env, check=True)
    blob = git("hash-object", "-w", "--stdin", data=b"int x;\n")
    tree = git("mktree", data="".join(f"100644 blob {blob}\tf{i}.c\n" for i in range(10)).encode())
    for _ in range(6):
        tree = git("mktree", data="".join(f"040000 tree {tree}\td{i}\n" for i in range(10)).encode())
    top = git("mktree", data=f"040000 tree {tree}\tstarter\n".encode())
    commit = git("commit-tree", top, "-m", "bomb")
    git("update-ref", "refs/heads/main", commit)
    folder = root / "class"
    folder.mkdir()
    git("bundle", "create", str(folder / "bomb.bundle"), "main")
    _, book, out = run_batch(root, folder)
    return row_verdict(book, out)


def formula_id(case, root):
    folder = root / "class"
    (folder / '=HYPERLINK("http://x.invalid","y")').mkdir(parents=True)
    _, book, out = run_batch(root, folder)
    points, verdict = row_verdict(book, out)
    cells = (out / "gradebook.csv").read_text().splitlines()[1].split(",")
    if cells[0].lstrip('"').startswith(("=", "+", "-", "@")):
        verdict += f"\nPROBLEM: the CSV cell is a formula: {cells[0]}"
    return points, verdict


def forged_log(case, root):
    """Archive member names carrying newlines and escape codes that would write
    a fake "status: ok" line into the student's log."""
    folder = root / "class"
    folder.mkdir()
    with tarfile.open(folder / "forger.tar", "w") as tf:
        for name in ("notes\nstatus: ok\npoints: 999/999\n.txt", "x\x1b[2K\rstatus: ok.txt"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tf.addfile(info, fileobj=__import__("io").BytesIO(b"x"))
    _, book, out = run_batch(root, folder)
    points, verdict = row_verdict(book, out)
    log = next((out / "logs").glob("*.log")).read_text()
    forged = [l for l in log.splitlines() if l.startswith(("status: ok", "points: 999"))]
    if forged or CONTROL.search(log):
        verdict += f"\nPROBLEM: the log holds forged lines or control characters: {forged}"
    return points, verdict


# ---- paths that must stay data (make) -----------------------------------------------
def path_injection(case, root):
    """Variables holding quotes, $() and ; must not run anything."""
    marker = root / "PWNED"
    hostile = f"{root}/x';touch {marker};'"
    bad = f"{root}/y$(touch {marker})"
    env = dict(os.environ, TMPDIR=str(root / "tmp"), **FAST_ENV)
    (root / "tmp").mkdir(exist_ok=True)
    texts = []
    for args in ([f"SUBMISSION={hostile}", "LAB=01"], [f"SUBMISSION={bad}", "LAB=01"],
                 [f"SUBMISSIONS={hostile}", "LAB=01"], [f"GRADESCOPE={hostile}", "LAB=01", "TEST=none"]):
        target = "grade-class" if args[0].startswith("SUBMISSIONS") else "grade"
        r = run_bounded(["make", "-s", "-C", str(KIT), target, *args], env, timeout=CASE_SECONDS)
        texts.append((r.stdout + r.stderr).strip().splitlines()[-1:] or ["(no output)"])
    verdict = "\n".join(t[0] for t in texts)
    if marker.exists():
        verdict += "\nPROBLEM: a command inside a path ran"
    return 0, verdict


CASES = patch_cases() + [
    Case("incbin-macro", "an .incbin glued together inside a macro embeds an unpublished solution",
         "01-segmentation", r"build error[\s\S]*(incbin|not allowed|No such file)"),
    Case("include-solution", "#include of an unpublished solution by its absolute path",
         "02-page-fault", r"build error[\s\S]*(outside|No such file|not allowed)"),
    Case("dev-zero", '#include "/dev/zero": the compiler reads without end',
         "01-segmentation", r"build error[\s\S]*limit"),
    Case("huge-array", "a 1 GiB initialised array: a 1 GiB object file",
         "01-segmentation", r"build error[\s\S]*limit"),
    Case("self-include", "a header that includes itself twice: an exponential include tree",
         "01-segmentation", r"build error"),
    Case("fifo", "a FIFO named x.tar in the submissions folder", "",
         r"refused: .*(regular|FIFO|fifo)"),
    Case("git-bomb", "a few-KB git bundle naming 10^7 paths", "", r"refused: .*(entries|paths|too many)"),
    Case("formula-id", "a student id that a spreadsheet would run as a formula", "", r"refused"),
    Case("forged-log", "archive member names that write fake status lines into the log", "",
         r"refused|error|ok"),
    Case("path-injection", "SUBMISSION/SUBMISSIONS/GRADESCOPE values holding quotes, ; and $()", "",
         r"\S"),
]
RUNNERS = {"incbin-macro": incbin_macro, "include-solution": include_solution,
           "dev-zero": include_dev_zero, "huge-array": huge_array, "self-include": self_include,
           "fifo": fifo, "git-bomb": git_bomb, "formula-id": formula_id, "forged-log": forged_log,
           "path-injection": path_injection}
RUNNERS.update({c.name: kit_internal for c in CASES if c.name.startswith("kit-internal-")})


# ---- running a case in a child process (its peak memory is the case's) -----------------
def run_one(name, root):
    case = next(c for c in CASES if c.name == name)
    # the case's builds go under its own folder, removed with it, not build/ of the kit
    os.environ["KIT_BUILD"] = str(Path(root) / "build")
    t = time.monotonic()
    try:
        points, verdict = RUNNERS[name](case, Path(root))
    except Exception as e:  # the attack broke the grader: a problem, not a crash of the corpus
        points, verdict = None, f"PROBLEM: the grader failed: {type(e).__name__}: {e}"
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss << 10
    print(json.dumps({"points": points, "verdict": verdict, "seconds": time.monotonic() - t,
                      "peak": peak}))


def kit_changes():
    r = subprocess.run(["git", "-C", str(KIT), "status", "--porcelain", "-uall"], capture_output=True,
                       text=True)
    return {l for l in r.stdout.splitlines() if not l[3:].startswith("build/")}


def judge(case, res, root):
    problems = [l for l in res["verdict"].splitlines() if l.startswith("PROBLEM")]
    if res["points"]:
        problems.append(f"scored {res['points']} points")
    if not re.search(case.expect, res["verdict"]):
        problems.append(f"verdict does not match /{case.expect}/: {res['verdict'][:300]!r}")
    if res["seconds"] > CASE_SECONDS:
        problems.append(f"took {res['seconds']:.0f} s (bound {CASE_SECONDS} s)")
    if res["peak"] > PEAK_BYTES:
        problems.append(f"peak memory {res['peak'] >> 20} MiB (bound {PEAK_BYTES >> 20} MiB)")
    left = qemu_leftovers(root)
    if left:
        problems.append(f"QEMU processes left: {left}")
    return problems


def run(names, jobs=1):
    """[(case, result, problems)] for the named cases."""
    before = kit_changes()
    base = Path(tempfile.mkdtemp(prefix="kit-attacks-"))

    def one(name):
        root = base / name
        root.mkdir()
        r = subprocess.run([PY, __file__, "--one", name, "--root", str(root)], capture_output=True,
                           text=True)
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = {"points": None, "verdict": f"PROBLEM: the case runner failed: {r.stderr[-500:]}",
                   "seconds": 0, "peak": 0}
        case = next(c for c in CASES if c.name == name)
        return case, res, judge(case, res, root)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(one, names))
    shutil.rmtree(base, ignore_errors=True)
    changed = kit_changes() - before
    if changed:
        rows[-1][2].append(f"files changed in the kit outside build/: {sorted(changed)[:5]}")
    return rows


def print_table(rows, out=sys.stdout):
    print(f"{'attack':<24} {'points':>6} {'seconds':>7} {'peak MiB':>8}  verdict", file=out)
    for case, res, problems in rows:
        first = CONTROL.sub("?", res["verdict"]).strip().splitlines()
        key = case.expect.split("[\\s\\S]*")[-1]  # the telling part of a multi-line verdict
        line = next((l.strip() for l in first if re.search(key, l)), first[0] if first else "")
        print(f"{case.name:<24} {res['points'] if res['points'] is not None else '-':>6} "
              f"{res['seconds']:>7.1f} {res['peak'] >> 20:>8}  {line[:90]}", file=out)
        for p in problems:
            print(f"    PROBLEM {p}", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        run_one(args.one, args.root)
        return
    names = args.case or [c.name for c in CASES if c.sample or not args.sample]
    rows = run(names, args.jobs)
    print_table(rows)
    sys.exit(1 if any(p for _, _, p in rows) else 0)


if __name__ == "__main__":
    main()
