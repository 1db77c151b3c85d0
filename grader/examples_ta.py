#!/usr/bin/python3
"""The TA guide's examples, run the way a TA runs them (issue 17).

    examples_ta.py [--keep]

Every example of handouts/ta-guide.md (each fenced block, and each concrete
command quoted in its prose) is run in a TA session: `make qemu-gdb LAB=..`
on one pseudo-terminal (the kernel's serial console), and the `make gdb ...`
line it prints on another, driven by pexpect. A block's `(gdb) CMD` lines are
typed at gdb, its `lab> CMD` lines at the serial console, `(Ctrl-C in gdb)`
interrupts gdb; what gdb and the console print is compared with the block's
other lines in shape (below). A log block is compared with QEMU's -d int log
of the same session. Sessions (RECIPES) say which kernel each example needs
(the starter, the solution, or a solution broken through gdb as the guide's
text says) and what happens between examples; they run all at once, one gdb
per session.

Shape: runs of spaces match any spaces; 0x... numbers and long bare hex words
(addresses of this build) match any hex; file paths and line numbers match
any; an expected line of `...` matches any lines, a line ending in `...` any
rest of the line. Other text, decimal counts, vectors and error codes must be
what gdb printed. Expected lines must follow each other as printed unless a
`...` line stands between them.

An HTML comment right before an example marks one that cannot run here:
    <!-- example: not run: <reason> -->
It is counted and reported with its reason. A block no recipe runs is failing.

check(kit) returns one record per example: dict(handout="ta-guide.md",
line=, kind=, status="run"|"not run"|"failing", reason=, seconds=).
"""
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pexpect

from examples import MARKER  # the lab handouts' marker syntax

KIT = Path(__file__).resolve().parents[1]
GUIDE = "ta-guide.md"
GDB_PROMPT = "(gdb) "
LAB_PROMPT = "lab> "
TIMEOUT = 30          # seconds for one step; a session's whole run is bounded by SESSION_TIMEOUT
SESSION_TIMEOUT = 90
STORM_RECORDS = 50    # #PF records in QEMU's log that make a storm (a few ms of it)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")
# commands quoted in prose that a TA would type as they are (no placeholder words)
# (a command a block of the guide shows at `(gdb) ` is that block's example, not another)
INLINE = re.compile(r"`((?:kit|help kit|break|make (?:qemu-gdb|gdb)|source|monitor info) [^`]*|help kit)`")
PLACEHOLDER = re.compile(r"\b(VA|LO|HI|ADDR|CODE|SEL|VECTOR|VEC|CR3|N|VALUE)\b|\.\.|<|\[")
GDB_ERRORS = re.compile(r"Undefined command|No symbol|Python Exception|Traceback|kit: error")


# ---- the guide ------------------------------------------------------------------------

@dataclass
class Example:
    line: int           # 1-based line of the opening fence, or of the prose line
    kind: str           # "gdb session", "make lines", "log", "output", "command"
    text: str           # the block's body, or the inline command
    key: tuple          # (first line, occurrence) for blocks, (command, occurrence) inline
    not_run: str = ""
    status: str = ""
    reason: str = ""
    seconds: float = 0.0

    def record(self):
        return dict(handout=GUIDE, line=self.line, kind=self.kind, status=self.status,
                    reason=self.reason, seconds=round(self.seconds, 2))


def block_kind(body):
    lines = [l for l in body.splitlines() if l.strip()]
    if any(l.startswith((GDB_PROMPT, LAB_PROMPT)) for l in lines):
        return "gdb session"
    if any("make qemu-gdb" in l for l in lines):
        return "make lines"
    if any(re.match(r"\s*\d+: v=", l) for l in lines):
        return "log"
    return "output"


def parse(text):
    """The guide's examples, in order."""
    out, seen = [], {}
    lines = text.splitlines()
    i, marker = 0, ""
    while i < len(lines):
        line = lines[i]
        m = MARKER.search(line)
        if m:
            marker = m.group(1)
            i += 1
            continue
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body = "\n".join(lines[i + 1:j])
            first = next((l.strip() for l in lines[i + 1:j] if l.strip()), "")
            n = seen[first] = seen.get(first, 0) + 1
            ex = Example(i + 1, block_kind(body), body, (first, n))
            if marker.startswith("not run"):
                ex.not_run = marker.split(":", 1)[1].strip() if ":" in marker else "no reason given"
            out.append(ex)
            marker, i = "", j + 1
            continue
        if line.strip() and not line.lstrip().startswith("|"):
            for cmd in INLINE.findall(line):
                if PLACEHOLDER.search(cmd.split(" ", 1)[1] if " " in cmd else "") or \
                        re.search(rf"^{re.escape(GDB_PROMPT + cmd)}\b", text, re.M):
                    continue
                n = seen[cmd] = seen.get(cmd, 0) + 1
                ex = Example(i + 1, "command", cmd, (cmd, n))
                if marker.startswith("not run"):
                    ex.not_run = marker.split(":", 1)[1].strip()
                out.append(ex)
        if not line.strip():
            marker = ""
        i += 1
    return out


# ---- shape ------------------------------------------------------------------------------

VARY = "\x00"   # what a vary regex leaves in an expected line: any text


def line_pattern(expected):
    """(regex, hex tokens) for one expected line (see the module's docstring); each hex
    token is a group, so a match tells what this build printed in its place."""
    s = expected.strip()
    rest = s.endswith("...") and s != "..."
    if rest:
        s = s[:-3].rstrip()
    out, pos, tokens = [], 0, []
    token = re.compile(r"0x[0-9a-f]+|\b[0-9a-f]{8,16}\b|(?:/[\w.+-]+)+\.[chS]:\d+|\s+|\x00")
    for m in token.finditer(s):
        out.append(re.escape(s[pos:m.start()]))
        t = m.group(0)
        if t.startswith("0x"):
            out.append(r"(0x[0-9a-f]+)")
            tokens.append(t)
        elif t == VARY:
            out.append(r".*?")
        elif t[0].isspace():
            out.append(r"\s+")
        elif t.startswith("/"):
            out.append(r"\S+\.[chS]:\d+")
        else:
            out.append(r"([0-9a-f]+)")
            tokens.append(t)
        pos = m.end()
    out.append(re.escape(s[pos:]))
    return re.compile("".join(out) + (".*" if rest else r"\s*")), tokens


def compare(expected, actual, vary=(), bound=None):
    """'' when the actual text has the expected lines in shape, else what differs.
    vary: regexes of expected text that stands for any word. bound (a dict) collects
    each expected hex token's value in this build, for the commands that follow."""
    want = [l for l in expected.splitlines() if l.strip()]
    got = [l.rstrip() for l in ANSI.sub("", actual).splitlines() if l.strip()]
    pos, gap = 0, True   # gap: any lines may come before the next expected line
    for w in want:
        if w.strip() in ("...", "…"):
            gap = True
            continue
        pat = w
        for v in vary:
            pat = re.sub(v, VARY, pat)
        rx, tokens = line_pattern(pat)
        found = None
        for k in range(pos, len(got) if gap else min(pos + 1, len(got))):
            m = rx.fullmatch(got[k].strip())
            if m:
                found = k
                if bound is not None:
                    bound.update(zip(tokens, m.groups()))
                break
        if found is None:
            near = "\n".join(got[pos:pos + 6]) or "(nothing more)"
            return f"expected a line like {w.strip()!r}; gdb printed:\n{near}"
        pos, gap = found + 1, False
    return ""


def substitute(cmd, bound):
    """cmd with each address an earlier line of the block printed replaced by this
    build's value (`map VA 0x7fde000 ...` after `alloc 0x7fde000`)."""
    return re.sub(r"\b0x[0-9a-f]{5,}\b", lambda m: bound.get(m.group(0), m.group(0)), cmd)


# ---- a TA session -------------------------------------------------------------------------

class Failed(Exception):
    pass


class Session:
    """make qemu-gdb on one terminal, the make gdb line it prints on another."""

    def __init__(self, kit, tmp, name, lab, variant_args=(), sock=None):
        self.kit, self.name, self.lab = kit, name, lab
        self.env = dict(os.environ, TMPDIR=str(tmp), TERM="dumb")
        self.env.pop("MAKEFLAGS", None)
        self.env.pop("MAKELEVEL", None)
        self.args = [f"LAB={lab}", *variant_args] + ([f"GDB_SOCK={sock}"] if sock else [])
        self.qemu = self.gdb = None
        self.hint = self.sock = None
        self.serial_log = ""
        self.running = False   # gdb let the CPU go (continue) and has not stopped since
        self.last = ""         # gdb's output at the last stop, or at connecting
        self.transcript = []   # what each block's steps printed (--keep writes it out)

    # -- starting
    def start(self):
        self.qemu = pexpect.spawn("make", ["-s", "qemu-gdb", *self.args], cwd=str(self.kit), env=self.env,
                                  encoding="utf-8", codec_errors="replace", timeout=TIMEOUT)
        self.qemu.expect(r"kit: waiting for gdb on (\S+); in another terminal, run:\r?\n\s*(make gdb[^\r\n]*)")
        self.sock, self.hint = self.qemu.match.group(1), self.qemu.match.group(2).strip()
        deadline = time.monotonic() + TIMEOUT
        while not Path(self.sock).exists():
            if time.monotonic() > deadline or not self.qemu.isalive():
                raise Failed(f"QEMU never listened on {self.sock}:\n{self.qemu.before}")
            time.sleep(0.02)
        argv = shlex.split(self.hint)
        self.gdb = pexpect.spawn(argv[0], ["-s", *argv[1:]], cwd=str(self.kit), env=self.env,
                                 encoding="utf-8", codec_errors="replace", timeout=TIMEOUT,
                                 dimensions=(500, 1000))
        self.connect_out = self.last = self.wait_gdb()
        for c in ("set style enabled off", "set pagination off", "set width 0", "set confirm off"):
            self.run_gdb(c)

    def close(self):
        for p in (self.gdb, self.qemu):
            if p is not None and p.isalive():
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.close(force=True)

    # -- gdb
    def wait_gdb(self, timeout=TIMEOUT):
        try:
            self.gdb.expect_exact(GDB_PROMPT, timeout=timeout)
        except pexpect.TIMEOUT:
            raise Failed(f"{self.name}: gdb gave no prompt in {timeout}s:\n{self.gdb.before[-2000:]}")
        except pexpect.EOF:
            raise Failed(f"{self.name}: gdb ended:\n{self.gdb.before[-2000:]}")
        return ANSI.sub("", self.gdb.before)

    def run_gdb(self, cmd, timeout=TIMEOUT):
        """Type cmd at gdb; what it printed (without the echo)."""
        self.gdb.sendline(cmd)
        out = self.wait_gdb(timeout)
        first, _, rest = out.partition("\n")
        return rest if first.strip() == cmd.strip() else out

    def send_gdb(self, cmd):
        """Type cmd (continue) and do not wait for the prompt."""
        self.gdb.sendline(cmd)
        self.gdb.expect_exact(cmd)

    def interrupt(self):
        self.gdb.sendintr()
        return self.wait_gdb()

    # -- serial
    def read_serial(self):
        """What the console printed so far (not yet read)."""
        try:
            while True:
                self.serial_log += self.qemu.read_nonblocking(65536, timeout=0)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass
        return self.serial_log

    def wait_serial(self, text, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while text not in ANSI.sub("", self.read_serial()):
            if time.monotonic() > deadline:
                raise Failed(f"{self.name}: no {text!r} on the console:\n{self.serial_log[-1500:]}")
            time.sleep(0.02)

    def type_serial(self, cmd, gdb_running, pace=0.0):
        """Type cmd at lab>; (console output, gdb output): waits for the next prompt on the
        console, or, when gdb runs the CPU (continue), for gdb's prompt (a breakpoint)."""
        self.wait_serial(LAB_PROMPT)
        start = len(self.serial_log)
        if not pace:
            self.qemu.send(cmd)
        for k, ch in enumerate(cmd if pace else ""):   # key by key, as a TA types
            self.qemu.send(ch)
            time.sleep(pace)
            if gdb_running and self.gdb_stopped():
                raise Failed(f"{self.name}: gdb stopped while `{cmd}` was being typed, at "
                             f"{cmd[:k + 1]!r}:\n{ANSI.sub('', self.gdb.before)[-800:]}")
        self.qemu.send("\r")
        deadline = time.monotonic() + TIMEOUT
        gdb_out = ""
        while True:
            serial = ANSI.sub("", self.read_serial()[start:])
            body = serial.split("\n", 1)[1] if "\n" in serial else ""
            if LAB_PROMPT in body:
                return body[:body.index(LAB_PROMPT)], gdb_out
            if gdb_running and self.gdb_stopped():
                gdb_out = ANSI.sub("", self.gdb.before)
                return ANSI.sub("", self.read_serial()[start:]).split("\n", 1)[-1], gdb_out
            if time.monotonic() > deadline:
                raise Failed(f"{self.name}: `{cmd}` gave no prompt:\n{serial[-1500:]}")
            time.sleep(0.02)

    def gdb_stopped(self):
        try:
            self.gdb.expect_exact(GDB_PROMPT, timeout=0.01)
            return True
        except pexpect.TIMEOUT:
            return False

    def int_log(self):
        return Path(re.sub(r"\.sock$", "", self.sock) + ".int.log")


# ---- running a guide block in a session ----------------------------------------------

def steps_of(body):
    """[(kind, text, expected lines)] of a gdb-session block: kind gdb, lab or ctrl-c."""
    steps = []
    for line in body.splitlines():
        if line.startswith(GDB_PROMPT):
            steps.append(["gdb", line[len(GDB_PROMPT):].strip(), []])
        elif line.startswith(LAB_PROMPT):
            cmd = re.sub(r"\s*\[typed on the serial console\]\s*$", "", line[len(LAB_PROMPT):])
            steps.append(["lab", cmd.strip(), []])
        elif line.strip() == "(Ctrl-C in gdb)":
            steps.append(["ctrl-c", "", []])
        elif steps:
            steps[-1][2].append(line)
        elif line.strip():
            steps.append(["output", "", [line]])
    return steps


def run_block(s, body, vary=(), pace=0.0):
    """Run a block's steps in session s; '' when every step printed its lines. Output
    lines before the block's first command are compared with what the session printed
    last (the stop that led here)."""
    problems, bound = [], {}
    for kind, cmd, want in steps_of(body):
        expected = "\n".join(want)
        cmd = substitute(cmd, bound)
        if kind == "gdb":
            if cmd in ("continue", "c"):
                s.send_gdb(cmd)
                s.running, got = True, ""
                if expected.strip():   # gdb stops with nothing typed (the fault comes back)
                    got = s.wait_gdb()
                    s.running = False
            else:
                if s.running:
                    raise Failed(f"`{cmd}` typed while the CPU runs")
                got = s.run_gdb(cmd)
        elif kind == "lab":
            serial, got_gdb = s.type_serial(cmd, s.running, pace)
            if got_gdb:
                s.running = False
            got = serial + "\n" + got_gdb
        elif kind == "ctrl-c":
            got = s.interrupt() if s.running else ""
            s.running = False
        else:
            got = s.last
        s.transcript.append(f"{kind}> {cmd}  [{time.monotonic():.2f}]\n{got}")
        if kind == "gdb" and GDB_ERRORS.search(got) and not GDB_ERRORS.search(expected):
            problems.append(f"`{cmd}` failed:\n{got.strip()[-800:]}")
        elif expected.strip():
            diff = compare(expected, got, vary, bound)
            if diff:
                problems.append(f"`{cmd or kind}`: {diff}")
    return "\n".join(problems)


# ---- the recipes: which session runs which example ----------------------------------

@dataclass
class Step:
    do: str                 # block, inline, gdb, cont, lab, fn
    arg: object = None
    n: int = 1              # which occurrence of the block's first line / the inline command
    vary: tuple = ()
    pace: float = 0.0
    covers: tuple = ()      # fn: the example keys it checks


def block(first, n=1, vary=(), pace=0.0):
    return Step("block", first, n, vary, pace)


def inline(cmd, n=1):
    return Step("inline", cmd, n)


BP = (r"(?<=Breakpoint )\d+",)   # breakpoint numbers depend on what the session set before
INDEX = (r"(?<=\[) *\d+(?=\])",)  # table indices of a walk: where this build's code lies
SIZES = (r"\b\d+K\b",)            # range sizes of a ptdump: how big this build's parts are
STORM = (r"<[^>]*>", r"(?<=rflags ).*", r"(?<=ss ).*")  # where Ctrl-C caught a #PF storm (SS is 0 once nested)
LOG = (r"^ *\d+(?=:)",)            # the log's record numbers: every interrupt before counts


def hint_is(expected_tail, startup=()):
    """The make gdb line make qemu-gdb printed names the session's variables, and gdb
    connected at the reset vector with the kit's commands loaded."""
    def check(s):
        want = "make gdb " + " ".join(f"'{a}'" if a.startswith(("SUBMISSION=", "GDB_SOCK=")) else a
                                      for a in s.args)
        problems = []
        if s.hint != want:
            problems.append(f"make qemu-gdb printed {s.hint!r}, expected {want!r}")
        for text in ("0x000000000000fff0 in ?? ()", "kit: gdb commands loaded", *startup):
            if text not in s.connect_out:
                problems.append(f"gdb did not print {text!r}:\n{s.connect_out[-800:]}")
        return "\n".join(problems)
    return check


def typed_without_stops(cmd):
    """The must-show of issue 17: with a breakpoint on trap, typing a command at lab>
    stops nothing until the command raises an exception (checked key by key)."""
    return Step("lab", cmd, pace=0.03)


@dataclass
class Recipe:
    name: str
    lab: str
    variant: tuple = ()
    own_sock: bool = False
    steps: list = field(default_factory=list)


RECIPES = [
    Recipe("starter", "02", steps=[
        Step("fn", hint_is(""), covers=(("terminal 1:  make qemu-gdb LAB=02", 1),)),
        inline("source grader/gdb/kit.py"),
    ]),
    Recipe("own-socket", "02", own_sock=True, steps=[
        Step("fn", hint_is(""), covers=(("make qemu-gdb LAB=02 GDB_SOCK=/tmp/me-a.sock", 1),
                                         ("make gdb LAB=02 GDB_SOCK=/tmp/me-a.sock", 1))),
    ]),
    Recipe("tables", "02", ("SOLUTION=1",), steps=[
        inline("help kit"), inline("help kit walk"),
        inline("break monitor_run"), Step("cont"),
        block("(gdb) kit cr"), block("(gdb) kit walk lab_main", vary=INDEX),
        block("(gdb) kit walk 0xffff888000345678", vary=INDEX), block("(gdb) kit walk 0xdeadbeaf"),
        block("(gdb) kit ptdump", vary=SIZES), block("(gdb) kit gdt"), inline("kit gdt 0x2b"),
        block("(gdb) kit tss"), block("(gdb) kit idt"), block("(gdb) kit idt 8"),
        inline("kit pferr 0x7"), inline("monitor info registers"),
        Step("gdb", "delete"),
        block("(gdb) break trap_vector14", vary=BP), inline("kit frame raw 14"),
    ]),
    Recipe("handler", "02", ("SOLUTION=1",), own_sock=True, steps=[
        block("(gdb) break page_fault_handler", 1, vary=BP),
        block("(gdb) kit pferr"),
    ]),
    Recipe("fault-loop", "02", ("SOLUTION=1",), own_sock=True, steps=[
        block("(gdb) break page_fault_handler", 2, vary=BP),
    ]),
    Recipe("bad-selector", "02", ("SOLUTION=1",), own_sock=True, steps=[
        Step("gdb", "break monitor_run"), Step("cont"),
        # the student's bug of 3.1, put in through gdb: every gate names the data segment
        Step("gdb", "set $i = 0"),
        Step("gdb", "while $i < 32\nset var idt[$i].lo = (idt[$i].lo & ~0xffff0000ul) | (0x10ul << 16)\n"
                    "set $i = $i + 1\nend"),
        block("(gdb) kit idt 14"),
        Step("gdb", "delete"), Step("run"), Step("lab", "fault write 0xdeadbeaf"),  # gdb stops: SIGQUIT
        block("Program received signal SIGQUIT, Quit."),
        Step("log", ("23: v=0e e=0002", 1), vary=LOG),
    ]),
    Recipe("bad-handler", "02", ("SOLUTION=1",), own_sock=True, steps=[
        Step("gdb", "break monitor_run"), Step("cont"),
        # 3.1's look-alike: the high 32 bits of every handler left 0
        Step("gdb", "set $i = 0"),
        Step("gdb", "while $i < 32\nset var idt[$i].hi = 0\nset $i = $i + 1\nend"),
        Step("gdb", "delete"), Step("run"), Step("type", "fault write 0xdeadbeaf"),
        Step("wait", "storm"), Step("ctrl-c"),  # the kernel hangs in a #PF storm: stop it
        block("Program received signal SIGINT, Interrupt.", vary=STORM),
    ]),
    Recipe("bad-load", "01", ("SOLUTION=1",), steps=[
        block("(gdb) break trap", pace=0.03),
    ]),
    Recipe("tlb", "05", ("SOLUTION=1",), steps=[
        Step("run"),
        block("lab> alloc"),
    ]),
]


# ---- running the recipes -------------------------------------------------------------------

def find(examples, step):
    """The example a step names: a block by (the start of) its first line and occurrence,
    an inline command by its text and occurrence."""
    if step.do in ("block", "log"):
        first, n = step.arg if step.do == "log" else (step.arg, step.n)
        first = first.strip()
        hits = [e for e in examples if e.kind != "command"
                and (e.key[0] == first or e.key[0].startswith(first + " "))]
    else:
        first, n = step.arg, step.n
        hits = [e for e in examples if e.kind == "command" and e.text == first]
    return hits[n - 1] if len(hits) >= n else None


def run_recipe(kit, tmp, recipe, examples, results):
    """Run one session's steps; results[id(example)] = (status, reason, seconds)."""
    sock = str(tmp / f"{recipe.name}.sock") if recipe.own_sock else None
    s = Session(kit, tmp, recipe.name, recipe.lab, recipe.variant, sock)
    todo = [(st, [find(examples, st)] if st.do in ("block", "log", "inline") else
             [find(examples, Step("block", k[0], k[1])) or find(examples, Step("inline", k[0], k[1]))
              for k in st.covers]) for st in recipe.steps]
    broken = ""
    t0 = time.monotonic()
    try:
        s.start()
        for st, exs in todo:
            if time.monotonic() - t0 > SESSION_TIMEOUT:
                raise Failed(f"the session took more than {SESSION_TIMEOUT}s")
            exs = [e for e in exs if e is not None and not e.not_run]
            start = time.monotonic()
            problem = run_step(s, st, exs)
            for e in exs:
                results[id(e)] = ("failing" if problem else "run", problem, time.monotonic() - start)
    except (Failed, pexpect.ExceptionPexpect, OSError) as e:
        broken = f"{recipe.name} session: {e}"
    finally:
        s.close()
        (tmp / f"{recipe.name}.transcript").write_text("\n".join(s.transcript) + "\n" + s.serial_log)
    if broken:
        for st, exs in todo:
            for e in exs:
                if e is not None and id(e) not in results and not e.not_run:
                    results[id(e)] = ("failing", broken, 0.0)
    return s


def run_step(s, st, exs):
    """Run one step; '' or what went wrong (for the examples it covers)."""
    if st.do == "block":
        return run_block(s, exs[0].text, st.vary, st.pace) if exs else ""
    if st.do == "inline" or st.do == "gdb":
        cmd = exs[0].text if st.do == "inline" and exs else st.arg
        if cmd.startswith("make "):
            return ""
        if cmd.startswith("source "):  # the guide's relative path: the kit's folder
            cmd = "source " + str(s.kit / cmd.split(" ", 1)[1])
        s.last = out = s.run_gdb(cmd)
        if GDB_ERRORS.search(out):
            if st.do == "gdb":
                raise Failed(f"`{cmd}` failed:\n{out[-800:]}")
            return f"`{cmd}` failed:\n{out.strip()[-800:]}"
        return ""
    if st.do == "cont":
        s.send_gdb("continue")
        s.last = s.wait_gdb()
        return ""
    if st.do == "run":
        s.send_gdb("continue")
        s.running = True
        return ""
    if st.do == "lab":
        serial, got = s.type_serial(st.arg, s.running, st.pace)
        if got:
            s.running, s.last = False, got
        return ""
    if st.do == "type":   # no prompt comes back (a hang, a triple fault)
        s.wait_serial(LAB_PROMPT)
        s.qemu.send(st.arg + "\r")
        return ""
    if st.do == "wait":   # until QEMU's log holds a storm of faults (STORM_RECORDS #PF records)
        deadline = time.monotonic() + TIMEOUT
        log = s.int_log()
        while not log.exists() or log.read_bytes()[-(1 << 20):].count(b" v=0e ") < STORM_RECORDS:
            if time.monotonic() > deadline:
                raise Failed("no #PF storm in QEMU's log")
            time.sleep(0.05)
        return ""
    if st.do == "ctrl-c":
        s.last = s.interrupt()
        s.running = False
        return ""
    if st.do == "log":
        if not exs:
            return ""
        log = s.int_log()
        text = log.read_text(errors="replace") if log.exists() else ""
        return compare(exs[0].text, text[-20000:], st.vary)
    if st.do == "fn":
        return st.arg(s)
    raise ValueError(st.do)


def covered(examples, recipes=None):
    """The ids of the examples some recipe runs."""
    ids = set()
    for r in recipes or RECIPES:
        for st in r.steps:
            keys = st.covers if st.do == "fn" else ()
            hits = [find(examples, st)] if st.do in ("block", "log", "inline") else \
                [find(examples, Step("block", k[0], k[1])) or find(examples, Step("inline", k[0], k[1]))
                 for k in keys]
            ids |= {id(e) for e in hits if e is not None}
    return ids


def prebuild(kit, recipes):
    """Build each kernel the recipes need once, before the sessions start (their
    make qemu-gdb then finds it built and never builds the same folder twice at once)."""
    import subprocess
    jobs = {}
    for r in recipes:
        lab = next(p.name for p in (kit / "labs").glob(f"{r.lab}-*"))
        key = (lab, r.variant)
        if key not in jobs:
            jobs[key] = subprocess.Popen(["make", "-s", "-C", str(kit / "labs" / lab), *r.variant],
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failed = {}
    for (lab, variant), p in jobs.items():
        out = p.communicate()[0]
        if p.returncode:
            failed[(lab, variant)] = out[-1500:]
    return failed


def check(kit=KIT, keep=False):
    """Run every example of the TA guide; one record per example."""
    kit = Path(kit)
    examples = parse((kit / "handouts" / GUIDE).read_text())
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="kit-ta-"))
    try:
        failed = prebuild(kit, RECIPES)
        threads = []
        for r in RECIPES:
            lab = next(p.name for p in (kit / "labs").glob(f"{r.lab}-*"))
            if (lab, r.variant) in failed:
                for st in r.steps:
                    e = find(examples, st) if st.do in ("block", "log", "inline") else None
                    if e is not None:
                        results[id(e)] = ("failing", f"{lab} did not build:\n{failed[(lab, r.variant)]}", 0)
                continue
            t = threading.Thread(target=run_recipe, args=(kit, tmp, r, examples, results), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(SESSION_TIMEOUT + 10)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    runs = covered(examples)
    for e in examples:
        if e.not_run:
            e.status, e.reason = "not run", e.not_run
        elif id(e) not in runs:
            e.status, e.reason = "failing", "no recipe of grader/examples_ta.py runs it (or mark it not run)"
        elif id(e) in results:
            e.status, e.reason, e.seconds = results[id(e)]
        else:
            e.status, e.reason = "failing", "its session never reached it"
    return [e.record() for e in examples]


def table(records, out=sys.stdout):
    n = {s: sum(r["status"] == s for r in records) for s in ("run", "not run", "failing")}
    total = len(records)
    print(f"{GUIDE}: {total} examples: {n['run']} run, {n['not run']} not run, {n['failing']} failing"
          f" ({100 * n['run'] // max(total, 1)}% run)", file=out)
    for r in records:
        if r["status"] != "run":
            reason = r["reason"].strip().replace("\n", "\n      ")
            print(f"  {r['status']:<8} line {r['line']:>3} ({r['kind']}): {reason}", file=out)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep the sessions' folder (logs, sockets)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every example")
    a = ap.parse_args()
    t0 = time.monotonic()
    records = check(KIT, a.keep)
    if a.verbose:
        for r in records:
            print(f"  {r['status']:<8} line {r['line']:>3} {r['kind']:<12} {r['seconds']:5.2f}s")
    table(records)
    print(f"({time.monotonic() - t0:.1f}s)")
    return 1 if any(r["status"] == "failing" for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
