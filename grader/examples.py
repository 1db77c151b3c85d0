#!/usr/bin/python3
"""The lab handouts' examples, run against each lab's solution (issue 17).

    examples.py [--lab L]... [--list] [--no-build] [--no-ta] [--quick]

Every example a lab handout (handouts/01..06-*.md) shows is run:
  * a ```sh line or an inline `make ...`: `make qemu ...` runs through make
    (SOLUTION=1) on a pty until the `lab> ` prompt, then quits with Ctrl-A X
    (make check, --quick: the first of each lab does; the others run with
    QEMU_EXTRA=-S, so QEMU takes the command line make built and waits, and
    its monitor's `quit` ends it); `make qemu-gdb` starts QEMU waiting and the
    `make gdb` line after it attaches and runs the gdb commands its comment
    names; `make grade ...` runs make -n and its TEST= words must select at
    least one of the lab's tests (make check's solution run grades every
    test); other make lines run make -n;
  * a block of `lab> ` lines: each command typed at the prompt of the solution
    kernel (the grader's harness, as the tests boot it), and what it printed
    compared with the lines under it in shape (below);
  * a block of `(qemu) ` lines, or an inline QEMU monitor command (`info tlb`,
    `xp /8bx 0xb8810`, `gva2gpa 0x...`): run at that machine's QEMU monitor;
  * an inline lab command with concrete arguments (`hold 0 list`): typed at the
    prompt; it must be a known command and not stop the kernel unless its
    marker says so.
A handout runs as one session: one machine, booted with the PARAMS of the last
`make qemu ... PARAMS=...` line above, or a marker's; a command that stops the
kernel (`kit: stopped`) ends that machine and the next example boots another
(replaying the commands of its block that came before, which did not stop).

Shape: an expected line matches when, spaces aside, it is the printed line;
`...` (or `…`) stands for any text, a line holding only `...` for any lines; a
trailing `<- note` is the handout's annotation, and so is ` # note` after a
command. A comment naming an exception, `# #GP(0x18)`, must be what the kernel
reports (`allowed`: no exception). Tokens a marker names as varying (frame
numbers, addresses of this build) match 0x[0-9a-f]+ (or \\S+), the same value
everywhere in the block once seen, and are replaced in later commands.

An HTML comment right before an example (a block, or an inline command in the
same paragraph) steers it, parts separated by `;`:
    <!-- example: not run: <reason> -->   the example cannot run here (counted, reason shown)
    <!-- example: params: frames=50 -->   boot a machine with these parameters for it
    <!-- example: fresh -->               boot a new machine for it
    <!-- example: variant: starter -->    boot that build of the lab (default: solution)
    <!-- example: via: grub -->           boot through GRUB as make qemu does, from here on
                                          (default: QEMU loads the kernel ELF, ~0.1 s a boot;
                                          the VGA text screen is blank that way)
    <!-- example: boot -->                the block is what the kernel prints before `lab> `
    <!-- example: vary: 0x12a000 ... -->   these tokens vary per run (see Shape)
    <!-- example: subset -->              the expected lines are some of the printed ones, in order
    <!-- example: stops -->               the command stops the kernel (the output is checked)
    <!-- example: expect: <text> -->      (inline) the output holds a line of this shape
    <!-- example: no example -->          a code span or block that only looks like a command

check(kit, labs) returns one record per example: dict(handout=, line=, kind=,
status="run"|"not run"|"failing", reason=); it also adds the TA guide's records
(grader/examples_ta.py, when present). Exits non-zero when an example fails.
"""
import argparse
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

GRADER = Path(__file__).resolve().parent
KIT = GRADER.parent
sys.path.insert(0, str(GRADER))

MARKER = re.compile(r"<!--\s*example:\s*(.*?)\s*-->")
MAKE_TIMEOUT = 120
QEMU_PROMPT_TIMEOUT = 30
NICE = 10  # make check runs the examples at this priority (submit(nice=True))
HMP_COMMANDS = ("info", "xp", "x", "gva2gpa", "p", "print")
HMP_ERRORS = re.compile(r"unknown command|Invalid parameter|invalid char|syntax error|Unmapped|"
                        r"expected|Cannot access memory|Unsupported|not found", re.I)
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9_]*\b|\.\.\.|…|<[^>]*>|\[")
EXC_COMMENT = re.compile(r"#([A-Z]{2})\((0x[0-9a-fA-F]+)\)")


# ---- what a handout holds ---------------------------------------------------------
@dataclass
class Example:
    handout: str
    line: int
    kind: str        # make | lab session | monitor session | boot output | lab command | monitor command
    text: str        # the block's body or the inline command
    markers: dict = field(default_factory=dict)
    problem: str = ""
    note: str = ""   # a make line's ` # comment`

    def record(self, status, reason="", seconds=0.0):
        return dict(handout=self.handout, line=self.line, kind=self.kind,
                    status=status, reason=reason, seconds=round(seconds, 2))


def read_markers(texts):
    out, problem = {}, ""
    for text in texts:
        for part in (p.strip() for p in text.split(";")):
            if not part:
                continue
            key, _, value = part.partition(":")
            key = key.strip()
            if key in ("not run", "params", "vary", "expect", "variant", "via"):
                out[key] = value.strip()
            elif key in ("fresh", "boot", "subset", "stops", "no example") and not value:
                out[key] = True
            else:
                problem = f"a marker this checker does not understand: {part!r}"
    return out, problem


def lab_commands(lab):
    """The lab's monitor commands, {name: help}, from the kernel's and the lab's
    MONITOR_COMMAND(name, "help", fn) declarations."""
    out = {}
    files = list((KIT / "labs" / "kernel").glob("*.c")) + list((KIT / "labs" / lab).rglob("*.c"))
    for f in files:
        for name, help_ in re.findall(r'MONITOR_COMMAND\(\s*(\w+)\s*,\s*"([^"]*)"', f.read_text()):
            out[name] = help_
    return out


def takes_no_argument(help_):
    """`tss  dump ...`, `mpu [on|off] ...`: the command runs without an argument."""
    usage = re.split(r"\s{2,}", help_.strip(), maxsplit=1)[0].split()[1:]
    return not any(re.fullmatch(r"[A-Z][A-Z0-9_.]*|[a-z]+\|.*", w) for w in usage)


def markers_above(lines, i):
    """The example markers on the lines just above line i (blank lines between allowed)."""
    found, j = [], i - 1
    while j >= 0 and (not lines[j].strip() or MARKER.fullmatch(lines[j].strip())):
        if lines[j].strip():
            found.insert(0, MARKER.fullmatch(lines[j].strip()).group(1))
        j -= 1
    return found


def parse(handout, text):
    """The examples of a handout, in document order."""
    lines = text.splitlines()
    commands = lab_commands(lab_of(handout))
    out, i = [], 0
    in_checks = False  # the generated "What the grader checks" and the "Reading a
    reading = False    # failure" sections quote tests and messages, not commands to run
    para = []  # (line number, text) of the paragraph being read
    while i < len(lines):
        line = lines[i]
        if "<!-- checks:begin" in line:
            in_checks = True
        if "<!-- checks:end" in line:
            in_checks = False
        if line.startswith("#"):
            reading = line.strip().lower().startswith("### reading a failure")
        m = re.match(r"^(\s*)(`{3,})\s*([\w-]*)\s*$", line)
        if m or not line.strip() or line.lstrip().startswith(("|", "#", "* ", "- ")) \
                or re.match(r"\s*\d+\. ", line):
            out += paragraph_examples(handout, para, commands)
            para = []
        if m:
            fence, info = m.group(2), m.group(3)
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), len(lines))
            body = "\n".join(lines[i + 1:end])
            marks, problem = read_markers(markers_above(lines, i))
            if not (in_checks or reading):
                out += block_examples(handout, i + 1, info, body, marks, problem)
            i = end + 1
            continue
        if line.strip() and not in_checks and not reading and not line.lstrip().startswith(("|", "#")):
            para.append((i + 1, line))
        i += 1
    return out + paragraph_examples(handout, para, commands)


def paragraph_examples(handout, para, commands):
    """The inline examples of a paragraph (or list item): a code span may cross a line."""
    if not para:
        return []
    text = "\n".join(l for _, l in para)
    check_para = bool(re.search(r"(^\s*(\* |- |\d+\. )?(\*\*)?|[.:]\s+)Check\b", text))
    found = []
    for ex in inline_examples(handout, para[0][0], text, commands, check_para):
        ex.line = para[0][0] + ex.line  # inline_examples gives the offset in lines
        found.append(ex)
    return found


def block_examples(handout, line, info, body, marks, problem):
    if marks.get("no example"):
        return []
    rows = body.splitlines()
    if info == "sh":
        found = []
        for k, row in enumerate(rows):
            cmd = strip_comment(row)
            if cmd:
                note = row.strip()[len(cmd):]
                found.append(Example(handout, line + 1 + k, "make", cmd, dict(marks), problem, note=note))
                for also in re.findall(r"also: (make [^)]*)\)", note):  # `# ... (also: make ...)`
                    found.append(Example(handout, line + 1 + k, "make", also.strip(), dict(marks), problem))
        return found
    if any(r.startswith("lab> ") for r in rows):
        return [Example(handout, line, "lab session", body, marks, problem)]
    if any(r.startswith("(qemu) ") for r in rows):
        return [Example(handout, line, "monitor session", body, marks, problem)]
    if marks.get("boot"):
        return [Example(handout, line, "boot output", body, marks, problem)]
    if marks or problem:  # a marker on a block that is no example: say so
        return [Example(handout, line, "text", body, marks,
                        problem or "a marker on a block that is not an example")]
    return []  # a diagram, a listing


def inline_examples(handout, line, text, commands, check_para):
    """The commands in a line of prose: a `make` line, a QEMU monitor command, a
    lab command with concrete arguments; in a paragraph that starts with
    "Check", also a lab command named alone (`gdt`) or with words only (`mpu on`)."""
    found, seen = [], set()
    for m in re.finditer(r"((?:<!--\s*example:[^>]*-->\s*)*)`([^`]+)`", text):
        marks, problem = read_markers(MARKER.findall(m.group(1)))
        span = " ".join(m.group(2).split())
        line = text.count("\n", 0, m.start(2))
        if marks.get("no example"):
            continue
        words = span.split()
        if not words or span in seen:
            continue
        seen.add(span)
        if words[0] == "make" or (len(words) > 1 and words[1] == "make" and "=" in words[0]):
            if "<" in span or (len(words) == 2 and words[1] in ("qemu", "qemu-gdb", "gdb", "grade")):
                continue  # a form (`make grade LAB=01 TEST=<name>`) or a name (`make qemu`)
            found.append(Example(handout, line, "make", span, marks, problem))
            continue
        if PLACEHOLDER.search(re.sub(r"\b0x[0-9a-fA-F]+\b", "", span)) and not marks:
            continue  # a command's syntax (`map VA PA FLAGS`), not an example
        if words[0] in HMP_COMMANDS and (words[0] != "info" or len(words) == 2) \
                and not (words[0] in ("p", "gva2gpa") and len(words) == 1):
            if words[0] in ("xp", "x") and (len(words) < 3 or not words[1].startswith("/")):
                continue  # `xp /512gx` without an address: a hint, not a command
            found.append(Example(handout, line, "monitor command", span, marks, problem))
        elif words[0] in commands and all(re.fullmatch(r"[\w.-]+", w) for w in words[1:]) \
                and (check_para or len(words) > 1) \
                and (len(words) > 1 or takes_no_argument(commands[words[0]])):
            if "ends the boot" in commands[words[0]]:
                marks.setdefault("stops", True)
            found.append(Example(handout, line, "lab command", span, marks, problem))
    return found


def strip_comment(row):
    """A command line without its ` # note` (a `#` that starts a word after spaces)."""
    row = row.strip()
    if row.startswith("#"):
        return ""
    return re.split(r"\s+#\s", row, maxsplit=1)[0].strip()


def split_session(body, prompt):
    """[(command, note, [expected lines])] of a block of `prompt` lines."""
    steps = []
    for row in body.splitlines():
        if row.startswith(prompt):
            cmd = row[len(prompt):]
            note = ""
            parts = re.split(r"\s+#\s|\s{3,}", cmd, maxsplit=1)
            if len(parts) == 2:
                cmd, note = parts
            steps.append([cmd.strip(), note.strip(), []])
        elif steps:
            steps[-1][2].append(re.sub(r"\s{2,}<-.*$", "", row).rstrip())
    for s in steps:
        while s[2] and not s[2][-1].strip():
            s[2].pop()
    return steps


# ---- shape --------------------------------------------------------------------------
class Shape:
    """Expected lines as patterns, with the varying tokens bound as they are seen."""

    def __init__(self, vary):
        self.vary = vary.split() if vary else []
        self.bound = {}

    def substitute(self, cmd):
        """cmd with each bound token replaced by its value (in one pass: a value
        that is also a token is not replaced again)."""
        if not self.bound:
            return cmd
        toks = sorted(self.bound, key=len, reverse=True)
        rx = re.compile(r"(?<![\w])(" + "|".join(re.escape(t) for t in toks) + r")(?![\w])")
        return rx.sub(lambda m: self.bound[m.group(1)], cmd)

    def pattern(self, line):
        parts, names = [], []
        toks = sorted(self.vary, key=len, reverse=True)
        split = re.split("(" + "|".join([re.escape(t) for t in toks] + [r"\.\.\.", "…", r"\s+"]) + ")", line.strip()) \
            if line.strip() else [""]
        for piece in split:
            if not piece:
                continue
            if piece in ("...", "…"):
                parts.append(".*")
            elif piece.isspace():
                parts.append(r"\s+")
            elif piece in toks:
                if piece in self.bound:
                    parts.append(re.escape(self.bound[piece]))
                elif piece in names:
                    parts.append(f"(?P=v{toks.index(piece)})")
                else:
                    names.append(piece)
                    cls = r"0x[0-9a-f]+" if re.fullmatch(r"0x[0-9a-f]+", piece) else \
                        r"[0-9a-f]+" if re.fullmatch(r"[0-9a-f]+", piece) else r"\S+"
                    parts.append(f"(?P<v{toks.index(piece)}>{cls})")
            else:
                parts.append(re.escape(piece))
        return re.compile("".join(parts)), names, toks

    def match_line(self, expected, actual):
        rx, names, toks = self.pattern(expected)
        m = rx.fullmatch(actual.strip())
        if m:
            for n in names:
                self.bound[n] = m.group(f"v{toks.index(n)}")
        return bool(m)

    def compare(self, expected, actual, subset=False):
        """'' when the printed lines have the expected shape, else the first difference."""
        actual = [a for a in actual if a.strip()] if subset else list(actual)
        while actual and not actual[-1].strip():
            actual.pop()
        k = 0
        for n, exp in enumerate(expected):
            if exp.strip() in ("...", "…"):
                rest = expected[n + 1:]
                if not rest:
                    return ""
                while k < len(actual) and not self.match_line(rest[0], actual[k]):
                    k += 1
                continue
            if subset:
                while k < len(actual) and not self.match_line(exp, actual[k]):
                    k += 1
                if k == len(actual):
                    return f"no printed line has the shape of {exp.strip()!r}"
                k += 1
                continue
            if k >= len(actual):
                return f"expected {exp.strip()!r}, the output ended"
            if not self.match_line(exp, actual[k]):
                return f"expected {exp.strip()!r}, printed {actual[k].strip()!r}"
            k += 1
        if not subset and k < len(actual):
            return f"printed more than the handout shows: {actual[k].strip()!r}"
        return ""


# ---- running ------------------------------------------------------------------------
def lab_of(handout):
    return Path(handout).stem


def parse_params(text):
    out = {}
    for w in shlex.split(text):
        k, _, v = w.partition("=")
        out[k] = v
    return out


def end(child):
    """End a pexpect child and its whole process group (make, QEMU, gdb: it leads it)."""
    if child.isalive():
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    child.close(force=True)


class Stopped(Exception):
    """The kernel stopped during its boot (the PARAMS asked for a fault)."""


class Session:
    """The machine a handout's examples run on: booted on first use with the
    current parameters, ended when a command stops it or the parameters change."""

    def __init__(self, lab):
        self.lab = lab
        self.variant = "solution"
        self.via = "pvh"  # QEMU loads the ELF (0.1 s a boot); "grub" for what GRUB's boot prints
        self.params = {}
        self.gdb_qemu = self.gdb_tmp = None  # a make qemu-gdb waiting for the make gdb line
        self.machine = None
        self.boot_text = ""

    def start(self):
        """Boot; the machine, or None when the kernel stopped during the boot
        (what it printed is in boot_text either way)."""
        from harness import config
        from harness.machine import Machine, PROMPT, STOPPED
        built = config.build_root() / self.lab / self.variant  # explicit: no KIT_VARIANT needed
        if self.lab.startswith("06"):
            from harness_arm import ArmMachine
            self.machine = ArmMachine(self.lab, self.params, kernel=built / "kernel.elf")
        else:
            self.machine = Machine(self.lab, self.params, iso=built / "kernel.iso", via=self.via)
        m = self.machine
        hit = m.expect(re.escape(PROMPT) + "|" + re.escape(STOPPED), m.boot_timeout, allow_stop=True,
                       what="the `lab> ` prompt", since=m.started)
        self.boot_text = m.text[:hit.end() if hit.group(0) == STOPPED else hit.start()]
        if hit.group(0) == STOPPED:
            self.close()
            raise Stopped(self.boot_text)
        return m

    def get(self, params=None, fresh=False):
        if params is not None and params != self.params:
            self.params, fresh = params, True
        if fresh:
            self.close()
        return self.machine or self.start()

    def close(self):
        if self.machine is not None:
            self.machine.close()
            self.machine = None

    def close_gdb(self):
        """End the make qemu-gdb of a make gdb example (its process group) and its folder."""
        child, self.gdb_qemu = self.gdb_qemu, None
        if child is not None:
            end(child)
        if self.gdb_tmp:
            shutil.rmtree(self.gdb_tmp, ignore_errors=True)
            self.gdb_tmp = None

    def run(self, cmd):
        """Type `cmd`; (printed lines, stopped?). A stop ends this machine."""
        from harness.machine import PROMPT, STOPPED
        m = self.get()
        start = m.pos
        m.send(cmd)
        hit = m.expect(re.escape(PROMPT) + "|" + re.escape(STOPPED), timeout=10, allow_stop=True,
                       what=f"the prompt after `{cmd}`")
        out = m.text[start:hit.start()]
        first, _, rest = out.partition("\n")
        out = rest if first.strip() == cmd.strip() else out
        stopped = hit.group(0) == STOPPED
        if stopped:
            self.close()
        return out.rstrip("\n").split("\n") if out.strip() else [], stopped


_make_runs = {}  # (kit, make line) -> (ok, reason): a line that shows up again runs once
_booted = set()  # (kit, lab): a make qemu line of that lab has booted to the prompt
FULL_BOOTS = False  # every make qemu line boots to the prompt (make check-examples);
                    # else the first of each lab does, the others start QEMU paused (make check)


def run_make(kit, cmd, lab_tests, session=None, note=""):
    """A make line: (ok, reason)."""
    words = shlex.split(cmd)
    if "gdb" not in cmd:  # make qemu-gdb and make gdb go in pairs: each runs
        key = (str(kit), " ".join(words))
        if key not in _make_runs:
            _make_runs[key] = run_make_once(kit, words, lab_tests, session)
        return _make_runs[key]
    return run_make_once(kit, words, lab_tests, session, note)


def run_make_once(kit, words, lab_tests, session=None, note=""):
    env = dict(os.environ)
    while words and "=" in words[0] and words[0] != "make":
        k, _, v = words.pop(0).partition("=")
        env[k] = v
    args = words[1:]
    target = next((a for a in args if "=" not in a and not a.startswith("-")), "help")
    if "-C" in args:
        target = next((a for a in args[args.index("-C") + 2:] if "=" not in a and not a.startswith("-")),
                      "help")
    if target == "qemu" and "-n" not in args:
        lab = (str(kit), session.lab if session else "")
        if FULL_BOOTS or lab not in _booted:
            _booted.add(lab)
            return run_make_qemu(kit, args, env)
        return run_make_qemu_paused(kit, args, env)
    if target in ("qemu-gdb", "gdb") and "-n" not in args and session is not None:
        return (run_make_qemu_gdb if target == "qemu-gdb" else run_make_gdb)(kit, args, env, session, note)
    if target == "setup":
        r = subprocess.run(["make", "-s", "-n", "setup"], cwd=kit, env=env, capture_output=True,
                           text=True, timeout=MAKE_TIMEOUT)
        return (r.returncode == 0, "" if r.returncode == 0 else f"make -n setup: {r.stderr[-300:]}")
    r = subprocess.run(["make", "-n"] + args + ["SOLUTION=1"], cwd=kit, env=env, capture_output=True,
                       text=True, timeout=MAKE_TIMEOUT)
    if r.returncode != 0:
        return False, f"make -n {' '.join(args)}: status {r.returncode}: {(r.stderr or r.stdout)[-300:]}"
    if target == "grade":
        test = next((a.partition("=")[2] for a in args if a.startswith("TEST=")), "")
        lab = next((a.partition("=")[2] for a in args if a.startswith("LAB=")), "")
        names = lab_tests(lab)
        if not names:
            return False, f"LAB={lab} names no lab with tests"
        if test and not any(all(w.lower() in n.lower() for w in test.split()) for n in names):
            return False, f"TEST={test} selects none of the lab's tests"
    return True, ""


def run_make_qemu_gdb(kit, args, env, session, note):
    """make qemu-gdb: QEMU waits for gdb on the socket it names (kept for the make gdb line)."""
    import pexpect
    session.close_gdb()
    session.gdb_tmp = tempfile.mkdtemp(prefix="kit-examples-gdb-")
    env = dict(env, TMPDIR=session.gdb_tmp)
    child = session.gdb_qemu = pexpect.spawn("make", ["-s"] + args + ["SOLUTION=1"], cwd=str(kit), env=env,
                                             timeout=QEMU_PROMPT_TIMEOUT, encoding="utf-8",
                                             codec_errors="replace")
    if child.expect([r"waiting for gdb on (/\S+?\.sock)", pexpect.EOF, pexpect.TIMEOUT]) != 0:
        return False, f"make {' '.join(args)} never said where QEMU waits for gdb: {child.before[-300:]!r}"
    sock = Path(child.match.group(1))
    deadline = time.monotonic() + QEMU_PROMPT_TIMEOUT
    while not sock.exists():
        if time.monotonic() > deadline or not child.isalive():
            return False, f"QEMU never listened on {sock}"
        time.sleep(0.02)
    return True, ""


def run_make_gdb(kit, args, env, session, note):
    """make gdb, after a make qemu-gdb line: gdb attaches, and the gdb commands the
    line's comment names (`kit idt`) run without an error."""
    import pexpect
    if session.gdb_qemu is None:
        return False, "no make qemu-gdb line before it started a QEMU to attach to"
    env = dict(env, TMPDIR=session.gdb_tmp, TERM="dumb")
    child = pexpect.spawn("make", ["-s"] + args + ["SOLUTION=1"], cwd=str(kit), env=env,
                          timeout=QEMU_PROMPT_TIMEOUT, encoding="utf-8", codec_errors="replace")
    try:
        if child.expect_exact(["(gdb) ", pexpect.EOF, pexpect.TIMEOUT]) != 0 \
                or "Remote debugging using" not in child.before:
            return False, f"gdb did not attach: {child.before[-300:]!r}"
        for cmd in re.findall(r"`([^`]+)`", note):
            child.sendline(cmd)
            if child.expect_exact(["(gdb) ", pexpect.EOF, pexpect.TIMEOUT]) != 0:
                return False, f"`{cmd}`: gdb gave no prompt"
            err = re.search(r"Undefined command|No symbol|Python Exception|Traceback|kit: error[^\n]*",
                            child.before)
            if err:
                return False, f"`{cmd}` at gdb: {err.group(0)}"
        return True, ""
    finally:
        end(child)
        session.close_gdb()


def run_make_qemu_paused(kit, args, env):
    """make qemu with QEMU_EXTRA=-S: QEMU takes the command line make built (PARAMS,
    INTLOG, ...) and waits, stopped; its monitor (Ctrl-A C) answers, `quit` ends it.
    (The lab's first make qemu line boots to the prompt; the grader boots every lab.)"""
    import pexpect
    child = pexpect.spawn("make", ["-s"] + args + ["SOLUTION=1"], cwd=str(kit),
                          env=dict(env, QEMU_EXTRA="-S"), timeout=QEMU_PROMPT_TIMEOUT,
                          encoding="utf-8", codec_errors="replace")
    try:
        if child.expect(["Ctrl-A C toggles", pexpect.EOF, pexpect.TIMEOUT]) != 0:
            return False, f"make {' '.join(args)} did not start QEMU: {child.before[-300:]!r}"
        child.send("\x01c")
        if child.expect([r"\(qemu\) ", pexpect.EOF, pexpect.TIMEOUT]) != 0:
            tail = child.before[-400:].strip().replace("\r", "").replace("\n", " | ")
            return False, f"make {' '.join(args)}: QEMU did not take its command line: {tail}"
        child.send("quit\r")
        if child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=10) != 0:
            return False, "QEMU's quit did not end it"
        return True, ""
    finally:
        end(child)


def run_make_qemu(kit, args, env):
    """make qemu through make, on a pty: the prompt must come, Ctrl-A X must end QEMU."""
    import pexpect
    argv = ["-s"] + args + ["SOLUTION=1"]
    child = pexpect.spawn("make", argv, cwd=str(kit), env=env, timeout=QEMU_PROMPT_TIMEOUT,
                          encoding="utf-8", codec_errors="replace")
    try:
        i = child.expect(["lab> ", "kit: stopped", pexpect.EOF, pexpect.TIMEOUT])
        if i > 1:  # a kernel stopped by its PARAMS (fault=...) is an example too
            tail = (child.before or "")[-400:].strip().replace("\n", " | ")
            return False, f"make {' '.join(args)} never reached `lab> `: {tail}"
        child.send("\x01x")
        i = child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=10)
        if i != 0:
            return False, "Ctrl-A X did not end QEMU"
        return True, ""
    finally:
        end(child)


def exception_note(note, lines):
    """'' when a `# #GP(0x18)` / `# ... allowed` note agrees with the output."""
    text = "\n".join(lines)
    m = EXC_COMMENT.search(note)
    got = re.search(r"EXCEPTION \d+ #(\w+)[^\n]*?err=(0x[0-9a-f]+)", text)
    if m:
        if not got:
            return f"the handout says {m.group(0)}, the kernel reported no exception"
        if got.group(1) != m.group(1) or int(got.group(2), 16) != int(m.group(2), 16):
            return f"the handout says {m.group(0)}, the kernel reported #{got.group(1)}({got.group(2)})"
    elif re.search(r"\ballowed\b", note) and got:
        return f"the handout says allowed, the kernel reported {got.group(0)}"
    return ""


def run_handout(kit, handout, lab_tests, only=None, text=None):
    """Run one handout's examples (or those at the lines of `only`; of `text`
    instead of the file's when given); their records."""
    text = (Path(kit) / handout).read_text() if text is None else text
    lab = lab_of(handout)
    session = Session(lab)
    records = []
    try:
        for ex in parse(handout, text):
            if only and ex.line not in only:
                continue
            if ex.problem:
                records.append(ex.record("failing", ex.problem))
                continue
            if "not run" in ex.markers:
                records.append(ex.record("not run", ex.markers["not run"]))
                continue
            t = time.monotonic()
            try:
                reason = run_example(kit, ex, session, lab_tests)
            except Exception as e:  # a KernelError, a timeout: the example fails
                session.close()
                reason = f"{type(e).__name__}: {str(e).strip()[:600]}"
            records.append(ex.record("failing" if reason else "run", reason, time.monotonic() - t))
    finally:
        session.close()
        session.close_gdb()
    return records


def run_example(kit, ex, session, lab_tests):
    marks = ex.markers
    if marks.get("via", session.via) != session.via:
        session.close()
        session.via = marks["via"]
    variant = marks.get("variant", "solution")
    if variant != session.variant:  # this example, and this one only, on another build
        session.close()
        session.variant = variant
        try:
            return run_example(kit, ex, session, lab_tests)
        finally:
            session.close()
            session.variant = "solution"
    params = parse_params(marks["params"]) if "params" in marks else None
    if ex.kind == "make":
        ok, reason = run_make(kit, ex.text, lab_tests, session, ex.note)
        words = shlex.split(ex.text)
        if ok and "qemu" in words and "-n" not in words:  # the session follows the student's make qemu
            p = next((w.partition("=")[2] for w in words if w.startswith("PARAMS=")), "")
            try:
                session.get(parse_params(p))
            except Stopped:  # the next boot output block compares what it printed;
                session.params = {}  # the examples after it boot without the fault
        return reason
    if ex.kind == "boot output":  # of the marker's params, else of the last make qemu
        if params is not None or not session.boot_text:
            session.via = "grub"  # as make qemu boots it
            try:
                session.get(params or {}, fresh=True)
            except Stopped:
                session.params = {}
            finally:
                session.close()
                session.via = "pvh"
        printed = session.boot_text.replace("\r", "").split("\n")
        return Shape(marks.get("vary")).compare(ex.text.splitlines(), printed, subset=True)
    if ex.kind in ("lab command", "monitor command"):
        m = session.get(params, fresh=bool(marks.get("fresh")))
        if ex.kind == "lab command":
            lines, stopped = session.run(ex.text)
            err = lines[0] if lines and re.match(r"(unknown command|usage:)", lines[0]) else None
            if not err and stopped != bool(marks.get("stops")):
                err = f"stopped the kernel: {' | '.join(lines[-4:])}" if stopped else \
                    "the handout says it stops the kernel; it did not"
        else:
            lines = m.hmp(ex.text).strip("\n").split("\n")
            err = None if "expect" in marks else \
                next((l.strip() for l in lines if HMP_ERRORS.search(l)), None)
        if err:
            return f"`{ex.text}`: {err}"
        if "expect" in marks:
            return Shape(marks.get("vary")).compare([marks["expect"]], lines, subset=True)
        return ""
    if ex.kind == "monitor session":
        m = session.get(params, fresh=bool(marks.get("fresh")))
        shape = Shape(marks.get("vary"))
        for cmd, note, expected in split_session(ex.text, "(qemu) "):
            out = m.hmp(shape.substitute(cmd)).strip("\n").split("\n")
            err = next((l for l in out if HMP_ERRORS.search(l)), None)
            if err:
                return f"`{cmd}`: {err.strip()}"
            diff = shape.compare(expected, out, subset=True)
            if diff:
                return f"`{cmd}`: {diff}"
        return ""
    if ex.kind == "lab session":
        session.get(params, fresh=bool(marks.get("fresh")))
        shape = Shape(marks.get("vary"))
        done = []
        for cmd, note, expected in split_session(ex.text, "lab> "):
            cmd = shape.substitute(cmd)
            if session.machine is None:  # a command before stopped the kernel: replay
                for c in done:
                    session.run(c)
            lines, stopped = session.run(cmd)
            if stopped:
                lines.append("kit: stopped")
            diff = (shape.compare(expected, lines, subset=bool(marks.get("subset"))) if expected else "") \
                or exception_note(note, lines)
            if not expected and lines and re.match(r"(unknown command|usage:)", lines[0]):
                diff = lines[0]
            if stopped and not expected and not EXC_COMMENT.search(note):
                diff = diff or f"stopped the kernel: {' | '.join(lines[-4:])}"
            if diff:
                return f"`lab> {cmd}`: {diff}"
            if not stopped:
                done.append(cmd)
        return ""
    return f"an example of unknown kind {ex.kind}"


# ---- the whole kit ---------------------------------------------------------------------
def handouts(kit, labs=None):
    names = sorted(p.name for p in (Path(kit) / "handouts").glob("[0-9][0-9]-*.md"))
    if labs:
        names = [n for n in names if any(n.startswith(l[:2]) for l in labs)]
    return [f"handouts/{n}" for n in names]


def test_names(kit):
    def names(lab):
        lab = lab.strip()
        files = sorted((Path(kit) / "grader").glob(f"test_{lab[:2].zfill(2)}_*.py")) if lab else []
        return [n for f in files for n in re.findall(r"^def (test_\w+)", f.read_text(), re.M)]
    return names


def build(kit, labs):
    """Build each lab's solution (make is incremental); the labs that failed."""
    failed = []
    for lab in labs:
        r = subprocess.run(["make", "-s", "build", f"LAB={lab}", "SOLUTION=1"], cwd=kit,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            failed.append(lab)
    return failed


def niced(fn, *args):
    """fn(*args) in this thread at a lower priority (Linux: per thread, and the make,
    QEMU and gdb it starts inherit it): make check's self-tests, its longest branch,
    keep the CPU first, and the examples fill the gaps."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except OSError:
        pass
    return fn(*args)


def submit(pool, kit=KIT, labs=None, ta=True, nice=False):
    """Start every lab handout's examples in `pool` (one task a handout), and the
    TA guide's (examples_ta.check) when that module exists; collect() waits for them.
    nice: at a lower priority (a pool of the examples' own: its threads stay niced)."""
    names = test_names(kit)
    run = (lambda fn, *a: pool.submit(niced, fn, *a)) if nice else pool.submit
    futures = [("lab", run(run_handout, kit, h, names)) for h in handouts(kit, labs)]
    if ta and not labs:
        try:
            import examples_ta
        except ImportError:
            examples_ta = None
        if examples_ta is not None:
            futures.append(("ta", run(examples_ta.check, Path(kit))))
    return futures


def collect(futures):
    """The records of submit()'s tasks; a task that raised is a failing record."""
    records = []
    for what, f in futures:
        try:
            records += f.result()
        except Exception as e:
            records.append(dict(handout="ta-guide.md" if what == "ta" else "handouts", line=0,
                                kind="module", status="failing",
                                reason=f"{type(e).__name__}: {str(e)[:300]}"))
    return records


def check(kit=KIT, labs=None, ta=True):
    """Run the examples (two handouts at a time); their records."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return collect(submit(pool, kit, labs, ta))


def table(records, out=sys.stdout):
    """The table per handout, the not-run reasons and failures; the number failing."""
    by = {}
    for r in records:
        by.setdefault(Path(r["handout"]).name, []).append(r)
    print(f"{'handout examples':<24} {'run':>4} {'not run':>8} {'failing':>8}", file=out)
    failing = 0
    for h, rows in by.items():
        n = {s: sum(r["status"] == s for r in rows) for s in ("run", "not run", "failing")}
        failing += n["failing"]
        print(f"{h:<24} {n['run']:>4} {n['not run']:>8} {n['failing']:>8}", file=out)
    total = len(records)
    ran = sum(r["status"] == "run" for r in records)
    print(f"{'all':<24} {ran:>4} {total - ran - failing:>8} {failing:>8}   "
          f"({100 * ran // max(total, 1)}% run)", file=out)
    for r in records:
        if r["status"] == "not run":
            print(f"  not run  {Path(r['handout']).name}:{r['line']} ({r['kind']}): {r['reason']}", file=out)
    for r in records:
        if r["status"] == "failing":
            print(f"  FAILING  {Path(r['handout']).name}:{r['line']} ({r['kind']}): {r['reason']}", file=out)
    return failing


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", action="append", default=[])
    ap.add_argument("--list", action="store_true", help="list the examples found, run nothing")
    ap.add_argument("--no-build", action="store_true", help="the solutions are built already")
    ap.add_argument("--no-ta", action="store_true", help="leave out the TA guide's examples")
    ap.add_argument("--quick", action="store_true",
                    help="as make check runs them: one make qemu a lab boots, the others start paused")
    args = ap.parse_args()
    labs = None
    if args.lab:
        from harness import config
        labs = [l for l in config.labs() for want in args.lab if l.startswith(want.zfill(2)[:2])]
        if not labs:
            ap.error(f"no lab matches {' '.join(args.lab)} (labs: {' '.join(config.labs())})")
    if args.list:
        for h in handouts(KIT, labs):
            for ex in parse(h, (KIT / h).read_text()):
                state = "not run" if "not run" in ex.markers else "failing" if ex.problem else "run"
                print(f"{Path(h).name}:{ex.line:<4} {ex.kind:<16} {state:<8} {ex.text.splitlines()[0][:70]}")
        return
    t0 = time.monotonic()
    global FULL_BOOTS
    FULL_BOOTS = not args.quick
    if not args.no_build:
        from harness import config
        bad = build(KIT, labs or config.labs())
        if bad:
            print(f"examples: the solution of {' '.join(bad)} does not build")
            sys.exit(1)
    records = check(KIT, labs, ta=not args.no_ta)
    failing = table(records)
    print(f"examples: {'FAILED' if failing else 'passed'} in {time.monotonic() - t0:.1f}s")
    sys.exit(1 if failing else 0)


if __name__ == "__main__":
    main()
