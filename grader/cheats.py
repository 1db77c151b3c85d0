#!/usr/bin/python3
"""The cheat corpus: kernels that try to fool the grader, built from the kit's
own files, and a check that each scores zero with a clear verdict.

    cheats.py record  TRANSCRIPTS [--lab L]...   grade the solutions, keeping their serial output
    cheats.py run     TRANSCRIPTS [--lab L]... [--mode M]...   build and grade every cheat

Kernel cheats (labs/cheat/cheat.c, pretending to be the lab): dump_hang,
dump_exit, exit_now, replay, triple, reboot, flood, silent, bad_prompt,
escapes, int3_loop.
Source cheats (a submission made from the solution): syntax (does not compile),
missing (links without a student function). The stub left in place is the
starter, which `make check` grades already.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

GRADER = Path(__file__).resolve().parent
sys.path.insert(0, str(GRADER))
from harness import config  # noqa: E402

PY = "/usr/bin/python3"
KERNEL_MODES = ["dump_hang", "dump_exit", "exit_now", "replay", "triple", "reboot", "flood",
                "silent", "bad_prompt", "escapes", "int3_loop"]
SOURCE_MODES = ["syntax", "missing"]
MODES = KERNEL_MODES + SOURCE_MODES
# Each cheat must end in one of these verdicts (words of the harness's messages).
VERDICT_WORDS = re.compile(r"timeout|hang|triple fault|reset itself|flood|left QEMU|not implemented|"
                           r"build error|panic|stopped unexpectedly|expected|assert|!=|==|not", re.I)
# Short bounds: a cheat is judged in seconds, not the default grading timeouts.
FAST_ENV = {"KIT_BOOT_TIMEOUT": "3", "KIT_COMMAND_TIMEOUT": "2"}


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def replay_table(transcript_dir, lab):
    """(command line, output) pairs from the recorded solution runs of `lab`."""
    pairs = []
    seen = set()
    for f in sorted(Path(transcript_dir).glob(f"{lab}-*.txt")):
        chunks = f.read_text(errors="replace").split("lab> ")
        for chunk in chunks[1:]:
            cmd, _, out = chunk.partition("\n")
            if cmd.strip() and (cmd, out) not in seen:
                seen.add((cmd, out))
                pairs.append((cmd.strip(), out))
    return pairs[:400]


def write_header(pairs, path):
    rows = ",\n".join(f"    {{{c_string(c)}, {c_string(o[:4000])}}}" for c, o in pairs)
    Path(path).write_text("static const char *const replay[][2] = {\n"
                          + (rows or '    {"", ""}') + "\n};\n")


def build_kernel_cheat(lab, mode, root, header):
    out = Path(root) / lab / mode
    flags = (f"-DCHEAT_LAB='\"{lab}\"' -DCHEAT_MODE={KERNEL_MODES.index(mode)} "
             f"-DCHEAT_REPLAY='\"{header}\"'")
    r = subprocess.run(["make", "-s", "-C", str(config.KIT / "labs" / "cheat"), f"BUILD={out}",
                        f"EXTRA_CFLAGS={flags}", f"SANDBOX_READ={Path(header).parent}"],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"cheat kernel {lab}/{mode} did not build:\n{r.stdout}{r.stderr}")


def x86_labs(labs):
    """The labs built by labs/rules.mk: the corpus's cheat kernels are x86 kernels."""
    return [l for l in labs
            if re.search(r"^include .*rules\.mk", (config.KIT / "labs" / l / "Makefile").read_text(), re.M)]


def lab_student_files(lab):
    text = (config.KIT / "labs" / lab / "lab.mk").read_text()
    m = re.search(r"^LAB_STUDENT_SRCS\s*:?=\s*(.*)$", text, re.M)
    return m.group(1).split() if m else []


def make_source_cheat(labs, mode, root):
    """A submission folder: the solutions, with each lab's first student file broken."""
    sub = Path(root) / mode / "submission"
    for l in config.labs():
        src = config.KIT / "solutions" / l
        if src.is_dir():
            shutil.copytree(src, sub / "starter" / l, dirs_exist_ok=True)
    for lab in labs:
        target = sub / "starter" / lab / lab_student_files(lab)[0]
        text = target.read_text()
        if mode == "syntax":
            target.write_text(text + "\nint cheat_syntax_error( {\n")
        else:  # missing: the file compiles to nothing, so its functions are undefined at link
            target.write_text("#if 0\n" + text + "\n#endif\n")
    return sub


def grade(labs, mode, root, submission=None, workers=2):
    """Grade every lab of `labs` against the cheat `mode` in one grade run
    (with up to `workers` pytest-xdist workers)."""
    out = Path(root) / f"{mode}.json"
    cmd = [PY, str(GRADER / "grade.py"), "--quiet", "--jobs", str(min(workers, len(labs))),
           "--json", str(out)] + sum((["--lab", l] for l in labs), [])
    env = dict(os.environ, **FAST_ENV)
    if submission:  # its build under root (removed with it), not build/ of the kit
        cmd += ["--submission", str(submission)]
        env["KIT_BUILD"] = str(Path(root) / "build" / mode)
    else:
        cmd += ["--prebuilt", str(root), "--variant", mode]
    env.pop("KIT_TRANSCRIPTS", None)
    t = time.monotonic()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, timeout=600)
    return json.loads(out.read_text()), time.monotonic() - t


# Modes whose verdict must say more than VERDICT_WORDS: what the grader must have noticed.
MODE_VERDICT = {"int3_loop": re.compile(r"flood|exception log", re.I)}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def judge(lab, mode, result, seconds):
    """Problems with one cheat's grading: points given, unclear messages,
    terminal control characters that reached a message."""
    problems = []
    for r in result["results"]:
        if r["lab"] == lab and CONTROL.search(r["message"] or ""):
            problems.append(f"{r['name']}: control characters in the message {r['message'][:120]!r}")
            break
    want = MODE_VERDICT.get(mode)
    if want and not any(want.search(r["message"] or "") for r in result["results"] if r["lab"] == lab):
        problems.append(f"no test's message matches /{want.pattern}/")
    tests = [r for r in result["results"] if r["lab"] == lab]
    if not tests:
        problems.append("no test ran")
    for r in tests:
        if r["passed"]:
            problems.append(f"{r['name']} PASSED ({r['points']} points)")
        elif not VERDICT_WORDS.search(r["message"] or ""):
            problems.append(f"{r['name']}: unclear message {r['message'][:200]!r}")
    return problems


def qemu_leftovers(root):
    left = []
    for p in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = p.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmd and str(root) in cmd:
            left.append(p.parent.name)
    return left


def run(transcripts, plan, jobs=2, workers=2):
    """Build and grade each (lab, mode) of plan, one grade run per mode (`jobs`
    at a time, each with up to `workers` pytest-xdist workers); return rows
    (lab, mode, problems, seconds, result) and leftover QEMU pids."""
    root = Path(tempfile.mkdtemp(prefix="kit-cheats-"))
    by_mode = {}
    for lab, mode in plan:
        by_mode.setdefault(mode, []).append(lab)
    for lab in {lab for lab, _ in plan}:
        write_header(replay_table(transcripts, lab), root / f"{lab}-replay.h")

    def one(mode):
        labs = by_mode[mode]
        if mode in KERNEL_MODES:
            for lab in labs:
                build_kernel_cheat(lab, mode, root, root / f"{lab}-replay.h")
            result, secs = grade(labs, mode, root, workers=workers)
        else:
            result, secs = grade(labs, mode, root, make_source_cheat(labs, mode, root), workers)
        return [(lab, mode, judge(lab, mode, result, secs), secs, result) for lab in labs]

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = [row for rows in pool.map(one, list(by_mode)) for row in rows]
    left = qemu_leftovers(root)
    shutil.rmtree(root, ignore_errors=True)
    return rows, left


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["record", "run"])
    ap.add_argument("transcripts")
    ap.add_argument("--lab", action="append", default=[])
    ap.add_argument("--mode", action="append", default=[])
    args = ap.parse_args()
    from grade import resolve_lab
    labs = x86_labs([resolve_lab(l) for l in args.lab] or config.labs())
    if args.action == "record":
        env = dict(os.environ, KIT_TRANSCRIPTS=args.transcripts)
        subprocess.run([PY, str(GRADER / "grade.py"), "--quiet", "--solution"]
                       + sum((["--lab", l] for l in labs), []), env=env)
        return
    rows, left = run(args.transcripts, [(l, m) for l in labs for m in args.mode or MODES])
    bad = False
    for lab, mode, problems, secs, result in rows:
        n = len([r for r in result["results"] if r["lab"] == lab])
        print(f"{lab:<18} {mode:<11} {'caught' if not problems else 'MISSED':<7} {n:>3} tests "
              f"(run of the mode: {secs:5.1f}s)")
        for p in problems:
            print(f"    {p}")
        bad |= bool(problems)
    if left:
        print(f"QEMU processes left behind: {left}")
    sys.exit(1 if bad or left else 0)


if __name__ == "__main__":
    main()
