#!/usr/bin/python3
"""The instructor guides' commands, run as one semester (issue 16).

    examples_guides.py [--plan] [--guide FILE] [--keep DIR]

Every ```sh block of handouts/instructor-guide.md and handouts/releasing.md
runs, in the order of the guide, in a scratch copy of the kit (a `git clone`
of its last commit, one per guide): releases, a student's clone, publishing,
`make update`, Gradescope, a small class graded, regraded and exported for a
plagiarism check. A ```toml block is read as a course file
(grader/course/config.py). Other blocks (output, text) are not commands.

An HTML comment just above a block steers it (several parts with `;`):
    <!-- example: not run: <reason> -->    the block cannot run here (the reason is reported)
    <!-- example: in <dir> -->             run it there: ~/x (the scratch home) or a folder
                                           of the kit's copy (default: the copy's root)
    <!-- example: status: 1 0 -->          each command's exit status (default 0 for all)
    <!-- example: student edits <file> --> first add a comment line to <file> (under the
                                           block's folder): a student's change to commit
    <!-- example: output -->               (above a plain ``` block) what the command block
                                           before it prints: each line must appear in that
                                           output, in order; numbers may differ and the
                                           guide's /home/you/kit stands for the copy's folder
Each command runs in one bash per block (so a `cd` holds for the block); the
block stops at the first command whose status is not the expected one.

The scratch home (HOME) holds what the guides assume:
    lab1/        a class's submissions of lab 01: alice.tar.gz (finished), bob/ (the
                 starter's gdt.c), carol/gdt.c (finished, a bare upload), notes.txt
    roster.csv   alice, bob, carol and dave (who submitted nothing)
    .gitconfig   a student's name, and the course's git host of the guides,
                 git@git.example.edu:os/labs.git, mapped to a local bare repository
TMPDIR is inside the scratch folder too, so nothing reaches the real /tmp or home.

check(kit) runs everything and returns one record per block:
dict(handout=, line=, kind="commands"|"course file"|"output", status="run"|"not run"|"failing",
reason=, seconds=). plan(kit) reads the guides without running anything:
status "not run" for marked blocks, "covered" for those check() runs, "failing"
for a marker it does not understand. `make check` checks the plan,
`make check-course` runs check().
"""
import argparse
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from examples import markers_above  # the markers over a block, as the lab handouts read them

KIT = Path(__file__).resolve().parents[1]
GUIDES = ("handouts/instructor-guide.md", "handouts/releasing.md")
HOST = "git@git.example.edu:os/labs.git"
STUDENT = ("A Student", "student@example.edu")
BLOCK_TIMEOUT = 600
KINDS = {"sh": "commands", "toml": "course file", "": "output"}
GUIDE_KIT = "/home/you/kit"   # how the guides write the kit's folder in shown output


@dataclass
class Block:
    handout: str
    line: int                  # the opening fence's line, 1-based
    kind: str
    text: str
    not_run: str = ""
    cwd: str = ""
    status: list = field(default_factory=list)
    edits: list = field(default_factory=list)
    problem: str = ""          # a marker this checker does not understand
    output: bool = False       # an output block to compare with the run above it

    def commands(self):
        """The block's commands: logical lines (backslash continuations joined), no comments."""
        out, cur = [], ""
        for line in self.text.splitlines():
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            cur += line[:-1] + " " if line.endswith("\\") else line
            if not line.endswith("\\"):
                out.append(cur.strip())
                cur = ""
        return out + ([cur.strip()] if cur.strip() else [])

    def record(self, status, reason="", seconds=0.0):
        return dict(handout=self.handout, line=self.line, kind=self.kind, status=status,
                    reason=reason, seconds=round(seconds, 1))


def read_markers(text, block):
    for part in (p.strip() for p in text.split(";")):
        if m := re.fullmatch(r"not run:\s*(.+)", part):
            block.not_run = m.group(1)
        elif m := re.fullmatch(r"in\s+(\S+)", part):
            block.cwd = m.group(1)
        elif m := re.fullmatch(r"status:\s*([0-9 ]+)", part):
            block.status = [int(s) for s in m.group(1).split()]
        elif m := re.fullmatch(r"student edits\s+(\S+)", part):
            block.edits.append(m.group(1))
        elif part == "output":
            block.output = True
        else:
            block.problem = f"a marker this checker does not understand: {part!r}"


def blocks(kit, handout):
    """The command and course-file blocks of a guide, with their markers."""
    lines = (Path(kit) / handout).read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,})\s*([\w-]*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), len(lines))
        body = "\n".join(l[len(indent):] if l.startswith(indent) else l.lstrip() for l in lines[i + 1:end])
        markers = markers_above(lines, i)
        if info in KINDS and (info or markers):   # a plain block: only as a marked output
            b = Block(handout, i + 1, KINDS[info], body)
            for text in markers:
                read_markers(text, b)
            if b.status and len(b.status) != len(b.commands()):
                b.problem = (f"status: lists {len(b.status)} exit status(es) for "
                             f"{len(b.commands())} command(s)")
            if b.output != (b.kind == "output") or b.kind == "output" and \
                    (b.cwd or b.status or b.edits or b.not_run):
                b.problem = b.problem or "an output marker goes alone, above a plain ``` block"
            out.append(b)
        elif markers:
            out.append(Block(handout, i + 1, info or "text", body,
                             problem="an example marker above a block that is not ```sh or ```toml"))
        i = end + 1
    return out


def plan(kit=KIT):
    """The records check() would give, without running: 'covered' for what it runs."""
    out = []
    for handout in GUIDES:
        for b in blocks(kit, handout):
            out.append(b.record("failing", b.problem) if b.problem else
                       b.record("not run", b.not_run) if b.not_run else b.record("covered"))
    return out


# ---- the scratch: a copy of the kit, a home, a class ------------------------------------

def scratch(kit, root):
    """A clone of the kit's last commit in root/kit and the home the guides assume."""
    copy, home = root / "kit", root / "home"
    subprocess.run(["git", "clone", "-q", str(kit), str(copy)], check=True)
    (root / "tmp").mkdir()
    home.mkdir()
    host = root / "host" / "labs.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(host)], check=True)
    (home / ".gitconfig").write_text(
        f"[user]\n\tname = {STUDENT[0]}\n\temail = {STUDENT[1]}\n"
        f"[init]\n\tdefaultBranch = main\n"
        f'[url "{host.as_uri()}"]\n\tinsteadOf = {HOST}\n')
    make_class(kit, home)
    return copy, home


def make_class(kit, home):
    """home/lab1: four submissions of lab 01 and a note; home/roster.csv."""
    done = (Path(kit) / "solutions/01-segmentation/gdt.c").read_bytes()
    stub = (Path(kit) / "starter/01-segmentation/gdt.c").read_bytes()
    lab1 = home / "lab1"
    (lab1 / "bob").mkdir(parents=True)
    (lab1 / "bob" / "gdt.c").write_bytes(stub)
    (lab1 / "carol").mkdir()
    (lab1 / "carol" / "gdt.c").write_bytes(done)
    with tarfile.open(lab1 / "alice.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("alice-lab1/starter/01-segmentation/gdt.c")
        info.size, info.mtime = len(done), int(time.time()) - 3600
        tar.addfile(info, io.BytesIO(done))
    (lab1 / "notes.txt").write_text("grading notes: carol asked for an extension\n")
    (home / "roster.csv").write_text(
        "id,name,email,lms_id\nalice,Alice A,alice@example.edu,1001\nbob,Bob B,bob@example.edu,1002\n"
        "carol,Carol C,carol@example.edu,1003\ndave,Dave D,dave@example.edu,1004\n")


def environment(root, home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KIT_", "MAKE", "PYTEST_", "GIT_")) and k not in
           ("MFLAGS", "SOLUTION", "SUBMISSION", "LAB", "TEST", "V", "GRADESCOPE", "OUT", "DIST",
            "UPTO", "PUBLISH", "ROSTER", "COURSE", "STUDENT", "COMPARE", "PLAGIARISM", "SUBMISSIONS")}
    env.update(HOME=str(home), TMPDIR=str(root / "tmp"), GIT_CONFIG_NOSYSTEM="1")
    return env


# ---- running a block ----------------------------------------------------------------

def folder(block, copy, home):
    if not block.cwd:
        return copy
    return home / block.cwd[2:] if block.cwd.startswith("~/") else home if block.cwd == "~" \
        else copy / block.cwd


def run_block(block, copy, home, env, logs):
    where = folder(block, copy, home)
    if not where.is_dir():
        return block.record("failing", f"its folder {block.cwd} does not exist (an earlier block "
                                       f"should have made it)")
    for path in block.edits:
        with open(where / path, "a") as f:
            f.write("/* a student's note */\n")
    commands = block.commands()
    expected = block.status or [0] * len(commands)
    statuses = logs / f"{Path(block.handout).stem}-{block.line}.status"
    script = ["set +e", f"cd {shq(where)}"]
    for cmd, want in zip(commands, expected):
        script += [cmd, f'__s=$?; echo "$__s" >> {shq(statuses)}; [ "$__s" = {want} ] || exit 100']
    log = logs / f"{Path(block.handout).stem}-{block.line}.log"
    t = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", "\n".join(script)], cwd=where,
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        finally:   # nothing the block started in its session outlives it
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    seconds = time.monotonic() - t
    got = [int(s) for s in statuses.read_text().split()] if statuses.exists() else []
    if proc.returncode == 0 and len(got) == len(commands):
        return block.record("run", f"{len(commands)} command(s)", seconds)
    tail = " | ".join(l.strip() for l in log.read_text(errors="replace").splitlines()[-6:])
    if len(got) < len(commands) and proc.returncode != 100:
        what = f"`{commands[len(got)]}` did not finish (exit {proc.returncode})"
    else:
        what = f"`{commands[len(got) - 1]}` exited {got[-1]}, not {expected[len(got) - 1]}"
    return block.record("failing", f"{what}: {tail[-600:]}", seconds)


def shq(path):
    return "'" + str(path).replace("'", "'\\''") + "'"


def output_block(block, copy, ran):
    """The shown output against what the command block above printed (ran: its log text)."""
    if ran is None:
        return block.record("failing", "the block above it did not run")
    actual, at = ran.splitlines(), 0
    for line in (l for l in block.text.splitlines() if l.strip()):
        text = re.escape(line.strip().replace(GUIDE_KIT, "\0"))
        text = re.sub(r"(\\ )+", r"\\s+", re.sub(r"\d+", r"\\d+", text))
        pattern = re.compile(text.replace("\x00", re.escape(str(copy))))
        at = next((k + 1 for k in range(at, len(actual)) if pattern.search(actual[k])), None)
        if at is None:
            return block.record("failing", f"the block above did not print {line.strip()!r}")
    return block.record("run", "printed by the block above")


def course_block(block, copy):
    sys.path.insert(0, str(KIT / "grader"))
    from course import config
    try:
        config.parse(block.text, config.kit_labs(copy), f"{block.handout}:{block.line}")
    except config.CourseError as e:
        return block.record("failing", str(e))
    return block.record("run", "read by grader/course/config.py")


def check(kit=KIT, keep=None, guides=GUIDES, progress=None):
    """Run every guide's blocks, each guide in its own scratch copy. One record per block."""
    records = []
    for handout in guides:
        root = Path(tempfile.mkdtemp(prefix="kit-guide-", dir=keep))
        try:
            copy, home = scratch(kit, root)
            env = environment(root, home)
            logs = root / "logs"
            logs.mkdir()
            ran = None   # the output of the last command block, when it ran
            for b in blocks(kit, handout):
                if b.problem:
                    r = b.record("failing", b.problem)
                elif b.not_run:
                    r = b.record("not run", b.not_run)
                elif b.kind == "course file":
                    r = course_block(b, copy)
                elif b.kind == "output":
                    r = output_block(b, copy, ran)
                else:
                    r = run_block(b, copy, home, env, logs)
                    log = logs / f"{Path(b.handout).stem}-{b.line}.log"
                    ran = log.read_text(errors="replace") if r["status"] == "run" else None
                records.append(r)
                if progress:
                    progress(r)
        finally:
            if keep is None:
                shutil.rmtree(root, ignore_errors=True)
    return records


def print_record(r, out=sys.stdout):
    print(f"{r['handout']}:{r['line']:<4} {r['kind']:<12} {r['status']:<8} {r.get('seconds', 0):6.1f}s  "
          f"{r['reason']}", file=out, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", action="store_true", help="read the guides, run nothing")
    ap.add_argument("--guide", action="append", help="only this guide (handouts/<name>.md)")
    ap.add_argument("--keep", help="make the scratch copies here and keep them")
    args = ap.parse_args()
    guides = tuple(args.guide or GUIDES)
    t = time.monotonic()
    if args.plan:
        records = [r for r in plan() if r["handout"] in guides]
        for r in records:
            print_record(r)
    else:
        records = check(KIT, args.keep, guides, progress=print_record)
    counts = {s: sum(r["status"] == s for r in records) for s in ("run", "covered", "not run", "failing")}
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" ({time.monotonic() - t:.1f}s)")
    sys.exit(1 if counts["failing"] else 0)


if __name__ == "__main__":
    main()
