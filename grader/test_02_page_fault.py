"""Lab 2: the IDT, the page-fault handler, the double fault on an IST stack, int3.

Every address comes from this run's random seed (0xdeadbeaf stays, the course's
example). The handlers' reports are compared with QEMU's own record of each
exception (-d int: vector, error code, CR2, the pushed frame), QEMU's registers
after the kernel stopped, the IDT read from memory, the kernel ELF's symbols
and the grader's models (models/pferr.py), never taken at their word.

Boots, started together at module setup: "main" (through GRUB, shared by the
non-fatal checks) and one fresh boot per fatal scenario, which runs its fault
from the boot parameters fault=KIND addr=ADDR and stops, so it never sits
at a prompt.
"""
import re

import pytest

from harness import KernelError, config, qemulog, symbols
from models import pferr as model

LAB = "02-page-fault"

KERNEL_CS, USER_CS = 0x08, 0x23
PAGE = 4096
STACK_BYTES = 16 << 10           # KSTACK_SIZE: each of the core's stacks
IST_DOUBLE_FAULT = 1
EXCEPTIONS = 32
RSVD_WINDOW, RSVD_WINDOW_SIZE = 0x0000008000000000, 2 << 20   # labs/02-page-fault/lab2.h
DEADBEAF = 0xDEADBEAF
LOWER_HALF_TOP = 0x00007FFFFFFFF000
RANDOM_CODES = 14                # random 32-bit codes on one `pferr` command line
GATE_SAMPLES = 6
IDT_ENTRIES = 256
SERIAL_VECTOR = 36               # labs/kernel/core.h: the kit adds the UART's gate after idt_init
PFERR_PROBE_BYTES, PFERR_PROBE_FILL = 96, 0xA5   # labs/02-page-fault/lab2.h
PF, DF, BP, GP = 14, 8, 3, 13


def hx(v):
    return f"0x{v:x}"


class Boots:
    """The machines of this module and the addresses chosen for them."""

    def __init__(self, pool):
        elf = config.kernel_elf(LAB)
        if not elf.exists():
            raise KernelError("build", f"no kernel ELF {elf}: the lab did not build")
        self.sym = symbols.load(str(elf))
        self.rng = config.new_rng(LAB)
        self.seed = self.rng.seed_value
        self.pool = pool
        self.scenarios = self._choose()
        # the shared boot goes through GRUB, as students run it; the scenarios PVH
        specs = [("main", LAB, dict(via="grub", seed=self.rng.getrandbits(32)))]
        for name, (kind, addr) in self.scenarios.items():
            extra = {"peek": addr} if name == "code_page" else {}
            specs.append((name, LAB, dict(seed=self.rng.getrandbits(32), **extra, fault=kind,
                                          addr=addr)))
        # idt_gate_encode's refusals, one boot each (a panic ends it): just past each bound
        r = self.rng
        bad_type = r.choice([t for t in range(16) if t not in (model.TYPE_INTR, model.TYPE_TRAP)]
                            + [0x10, 0xFF])
        self.refusals = {
            "gate_bad_type": (r.getrandbits(64), KERNEL_CS, bad_type, r.randrange(4), r.randrange(8)),
            "gate_dpl4": (r.getrandbits(64), KERNEL_CS, model.TYPE_INTR, 4, r.randrange(8)),
            "gate_ist8": (r.getrandbits(64), KERNEL_CS, model.TYPE_TRAP, r.randrange(4), 8),
        }
        for name, args in self.refusals.items():
            keys = ("gate_handler", "gate_sel", "gate_type", "gate_dpl", "gate_ist")
            specs.append((name, LAB, dict(seed=r.getrandbits(32), **dict(zip(keys, map(hx, args))))))
        pool.start_many(specs)
        self.results = {}
        self._collect()

    # -- address ranges of the kernel image (ELF symbols) --
    def _range(self, start, end):
        return self.sym.addr(start), self.sym.addr(end)

    def _pick(self, ranges, align=8):
        """A random aligned address in one of the ranges (the start of an empty one:
        a kernel that is not this lab's has no such section, and fails anyway)."""
        lo, hi = self.rng.choice(ranges)
        return self.rng.randrange(lo, hi - align, align) if hi - align > lo else lo

    def _choose(self):
        """{scenario: (fault kind, address)}: passed as boot parameters fault= addr=
        (code_page also reads the address first: peek=)."""
        text = self._range("__text_start", "__text_end")
        utext = self._range("__user_text_start", "__user_text_end")
        rodata = self._range("__rodata_start", "__rodata_end")
        data = (self.sym.addr("__data_start"), self.sym.addr("kstack_guard"))
        r = self.rng
        return {
            "write_deadbeaf": ("write", DEADBEAF),
            "read_unmapped": ("read", r.randrange(4 << 20, LOWER_HALF_TOP)),
            "code_page": ("write", self._pick([text])),
            "nx_fetch": ("exec", self._pick([rodata, data], align=1)),
            "user_read": ("uread", self._pick([text, rodata, data])),
            "user_write": ("uwrite", self._pick([utext])),
            "rsvd": ("rsvd", RSVD_WINDOW + r.randrange(0, RSVD_WINDOW_SIZE, 8)),
            "user_int3": ("uint3", self._pick([rodata, data])),
            "overflow": ("overflow", 0),
        }

    def _collect(self):
        """Wait for every boot once, now: each boot's timeout counts from its start,
        so none may sit unread while another is examined. A failure is kept for
        the tests of that boot."""
        for name in ["main"] + list(self.scenarios) + list(self.refusals):
            m = self.pool[name]
            try:
                if name == "main":
                    m.wait_prompt()
                else:
                    self.results[name] = (m, m.wait_stop())
            except KernelError as e:
                self.results[name] = e

    def _result(self, name):
        r = self.results.get(name)
        if isinstance(r, KernelError):
            raise r
        return r

    def ready(self, name):
        """The shared machine at its prompt."""
        self._result(name)
        return self.pool[name]

    def commands(self, *lines):
        """Run commands on the shared boot; their outputs. A hang or crash there is
        kept, so the later tests of that boot fail at once with the same verdict."""
        m = self.ready("main")
        try:
            return m.commands(list(lines))
        except KernelError as e:
            self.results["main"] = KernelError(e.verdict, f"(the shared boot failed in an earlier "
                                               f"test) {e}")
            raise

    def fatal(self, name):
        """The scenario's boot, stopped: (machine, what it printed after the IDT was loaded)."""
        return self._result(name)

    def addr(self, name):
        return self.scenarios[name][1]


@pytest.fixture(scope="module")
def boots(machine_pool):
    return Boots(machine_pool)


@pytest.fixture(autouse=True)
def _seed(request, _lab_built):
    """Record the run's seed with each result (after the build check, which explains a
    lab that does not compile better than a missing ELF)."""
    request.node.user_properties.append(("seed", request.getfixturevalue("boots").seed))


# ---- helpers ------------------------------------------------------------------------

# A "Servicing hardware INT=0xNN" line introduces the record of that hardware
# interrupt only when the next record has the same vector; in real mode (the
# BIOS's timer) QEMU logs the line alone. Drop just those lines, so the record
# after them (an int3 early in a boot) is not mistaken for a hardware interrupt.
_LONE_HW_LINE = re.compile(r"^Servicing hardware INT=0x([0-9a-f]+)\n(?!\s*\d+: v=\1 )", re.M)


def exceptions(m):
    """QEMU's record of m's exceptions and software interrupts, oldest first."""
    return qemulog.exceptions(_LONE_HW_LINE.sub("", m.log()))


def the_fault(m, vector, cr2=None, cpl=None):
    """QEMU's first record of `vector` (matching cr2/cpl when given)."""
    for e in exceptions(m):
        if e.vector == vector and (cr2 is None or e.cr2 == cr2) and (cpl is None or e.cpl == cpl):
            return e
    return None


def function(boots, addr):
    return boots.sym.function_at(addr) or f"no function ({hx(addr)})"


def assert_stopped(boots, m, who):
    r = m.regs()
    where = function(boots, r.rip)
    assert r.halted and where == "kit_stop", (
        f"{who} must end in kit_stop(): expected the CPU halted there, but QEMU shows it "
        f"{'halted' if r.halted else 'running'} in {where}.")
    return r


def check_page_fault(boots, name, out, addr, function_name, expect_err=None, user=False):
    """The student's #PF report against QEMU's record of the one fault at addr."""
    m = boots.pool[name]
    exc = the_fault(m, PF, cr2=addr)
    assert exc is not None, (
        f"expected a page fault at {hx(addr)}, but QEMU recorded none: the kernel stopped before "
        f"`fault {boots.scenarios[name][0]} {hx(addr)}` made its access. QEMU's record: "
        + (", ".join(str(e) for e in exceptions(m)) or "no exception") + m.tail())
    if expect_err is not None:
        assert exc.error & expect_err[0] == expect_err[1], (
            f"kit error: QEMU's error code {hx(exc.error)} is not the scenario's")
    rep = model.page_fault_report(out)
    assert rep is not None, (
        "expected the page-fault report of idt.h, 'PAGE FAULT addr=0x.. err=0x.. [flags]' then "
        "'  rip=0x.. cs=0x.. rflags=0x.. rsp=0x.. ss=0x..'. The kernel printed:\n"
        + out.strip()[-1200:])
    pfs = [e for e in exceptions(m) if e.vector == PF]
    assert len(pfs) == 1, ("expected one page fault, but your handler faulted again: QEMU recorded "
                           + ", ".join(str(e) for e in pfs))
    r = assert_stopped(boots, m, "The page-fault handler")
    assert rep["addr"] == addr and r.cr2 == addr, (
        f"reported address {hx(rep['addr'])}, expected {hx(addr)}, where the access was "
        f"(QEMU's CR2 {hx(r.cr2)}): print CR2, read when the handler starts."
        + addr_cause(rep["addr"], addr, exc))
    assert rep["err"] == exc.error, (
        f"reported error code {hx(rep['err'])}, expected {hx(exc.error)}, which the CPU pushed")
    want = model.decode(exc.error)
    assert rep["flags"] == want, (
        f"error code {hx(exc.error)} decoded as [{rep['flags']}], expected [{want}]"
        + pferr_cause([(exc.error, rep["flags"])]))
    frame = dict(rip=exc.rip, cs=exc.cs, rsp=exc.rsp, ss=exc.ss)
    wrong = {k: (rep[k], v) for k, v in frame.items() if rep[k] != v}
    assert not wrong, "the interrupted frame is not what the CPU pushed: " + ", ".join(
        f"{k}={hx(a)}, expected {hx(b)}" for k, (a, b) in wrong.items())
    assert (rep["cs"] & 3 == 3) == user, (
        f"cs={hx(rep['cs'])}: expected ring {3 if user else 0}")
    if function_name:
        where = function(boots, rep["rip"])
        assert where == function_name, (
            f"reported rip {hx(rep['rip'])} lies in {where}, expected {function_name}, "
            "the function that made the access")
    return rep, exc


def addr_cause(got, addr, exc):
    """The likely source of a wrong reported address: another value of the same fault."""
    if got == addr:
        return ""
    for what, v in (("the frame's rip (tf->rip)", exc.rip), ("the error code", exc.error),
                    ("the frame's rsp", exc.rsp)):
        if got == v and v != addr:
            return (f" It equals {what}: it looks like addr was taken from {what} instead of "
                    f"read_cr2().")
    return ""


def _decode_reading(err, k, src, invert):
    """model.decode(err) with the k-th mandatory word reading bit `src` (inverted if asked)."""
    bit, off, on = model.WORDS[k]
    words = []
    for i, (b, o, n) in enumerate(model.WORDS):
        set_ = bool(err & (src if i == k else b)) ^ (invert and i == k)
        w = n if set_ else o
        if w:
            words.append(w)
    return " ".join(words)


def pferr_variants():
    """(the mistake, its decoder) for each way one of the three mandatory words
    (P, W/R, U/S) can read the wrong bit: another defined bit, or its own backwards."""
    names = {b: f"bit {b.bit_length() - 1} ({n or o})" for b, o, n in model.WORDS}
    for k, (bit, off, on) in enumerate(model.WORDS[:3]):
        yield (f"the {on}/{off} word is backwards: it says {off} when bit {bit.bit_length() - 1} is set",
               lambda err, k=k, bit=bit: _decode_reading(err, k, bit, True))
        for src in names:
            if src != bit:
                yield (f"the {on}/{off} word follows {names[src]} instead of {names[bit]}",
                       lambda err, k=k, src=src: _decode_reading(err, k, src, False))


def pferr_cause(pairs):
    """'; it looks like <mistake>' when exactly one mistake of pferr_variants gives the
    decoder's text for every (code, text) pair observed, else ''."""
    pairs = [(c, t) for c, t in pairs if t is not None]
    if all(t == model.decode(c) for c, t in pairs):
        return ""
    fits = [why for why, fn in pferr_variants() if all(fn(c) == t for c, t in pairs)]
    return f"; it looks like {fits[0]}" if len(fits) == 1 else ""


def gate_cause(vector, g, stub):
    """The likely mistake behind a wrong offset/type/DPL/IST in gate 3, 8 or 14."""
    why = []
    if g["offset"] != stub and g["offset"] == stub & 0xFFFFFFFF:
        why.append("the offset is the stub's low 32 bits: it looks like the gate's upper 8 bytes "
                   "(handler 63:32) were never written")
    if vector == DF and g["ist"] == 0:
        why.append("the #DF gate has IST 0: it looks like idt_init never gave vector 8 its IST "
                   "(ist = 1), so a double fault from a kernel stack overflow pushes onto the "
                   "dead stack and the machine triple-faults")
    elif vector == DF and g["ist"] != IST_DOUBLE_FAULT:
        why.append(f"the #DF gate has IST {g['ist']}, a slot the TSS leaves zero: the TSS fills IST1")
    if vector == PF and g["ist"] == IST_DOUBLE_FAULT:
        why.append("the page-fault gate has IST 1: it looks like the IST went to gate 14 instead of gate 8")
    if vector == BP and g["dpl"] == 0:
        why.append("the #BP gate has DPL 0: it looks like every gate was built with DPL 0; "
                   "int3 from ring 3 then raises #GP instead of reaching the handler")
    if vector != BP and g["dpl"] == 3:
        why.append(f"gate {vector} has DPL 3: ring 3 could raise it with `int ${vector}`; only #BP "
                   f"gets DPL 3")
    if g["type"] == model.TYPE_TRAP:
        why.append("a trap gate (0xf) leaves interrupts on in the handler: exceptions use interrupt gates (0xe)")
    return "; " + "; ".join(why) if why else ""


def gate_encode_cause(args, got):
    """The likely mistake behind a wrong idt_gate_encode result: one half right, the
    other what a classic slip gives."""
    handler = args[0]
    lo, hi = model.encode_gate(*args)
    if got[0] == lo and got[1] != hi:
        if got[1] == 0:
            return ("; lo is right and hi is 0: it looks like the upper 8 bytes (handler 63:32) "
                    "were never written")
        if got[1] == handler:
            return "; hi holds the whole handler: it looks like it was stored without the >> 32"
    if got[1] == hi and got[0] == lo & ~(1 << 47):
        return "; only the present bit (47) is missing: P = 1 for every gate the IDT uses"
    return ""


# ---- the IDT (shared boot) ----------------------------------------------------------------

def assert_idtr_is_yours(boots, base):
    mine = boots.sym.addr("idt")
    assert base == mine, f"IDTR base is {hx(base)}, expected your idt at {hx(mine)}"


def idt_gates(boots):
    m = boots.ready("main")
    base, limit = m.regs().idt
    return m, base, limit


@pytest.mark.points(5)
def test_idt_is_yours(boots):
    """IDTR (QEMU's registers) holds the address of your `idt` and the limit of its 256 gates."""
    m, base, limit = idt_gates(boots)
    mine = boots.sym.addr("idt")
    assert base == mine, (
        f"IDTR base is {hx(base)}, not your idt at {hx(mine)}"
        + (" (still the core's IDT: did idt_init run lidt?)"
           if boots.sym.function_at(base) is None and base != mine else ""))
    assert limit == IDT_ENTRIES * model.GATE_BYTES - 1, (
        f"IDTR limit {hx(limit)}, expected {hx(IDT_ENTRIES * model.GATE_BYTES - 1)}: the size of "
        f"the {IDT_ENTRIES}-gate idt in bytes, minus one")


@pytest.mark.points(4)
@pytest.mark.parametrize("vector", [BP, DF, PF], ids=["bp", "df", "pf"])
def test_idt_gate_bp_df_pf(boots, vector):
    """Gate 3, 8 or 14 in memory targets its core stub with the right type, DPL and IST."""
    m, base, limit = idt_gates(boots)
    assert_idtr_is_yours(boots, base)
    raw = m.read_virt(base + vector * model.GATE_BYTES, model.GATE_BYTES)
    g = model.decode_gate(raw)
    stub = boots.sym.addr(f"trap_vector{vector}")
    want = dict(present=1, offset=stub, selector=KERNEL_CS, type=model.TYPE_INTR,
                dpl=3 if vector == BP else 0, ist=IST_DOUBLE_FAULT if vector == DF else 0,
                zero_bits=0)
    wrong = {k: (g[k], v) for k, v in want.items() if g[k] != v}
    assert not wrong, f"gate {vector} (raw {raw.hex()}): " + ", ".join(
        f"{k} is {hx(a)}, expected {hx(b)}" for k, (a, b) in wrong.items()) + gate_cause(vector, g, stub)


@pytest.mark.points(3)
def test_idt_all_exception_gates(boots):
    """Each of the 32 exception gates in memory sends its vector to trap_vectors[v]."""
    m, base, limit = idt_gates(boots)
    assert_idtr_is_yours(boots, base)
    raw = m.read_virt(base, EXCEPTIONS * model.GATE_BYTES)
    bad = []
    for v in range(EXCEPTIONS):
        g = model.decode_gate(raw[v * model.GATE_BYTES:(v + 1) * model.GATE_BYTES])
        ok = (g["present"] and g["offset"] == boots.sym.addr(f"trap_vector{v}")
              and g["selector"] == KERNEL_CS and g["type"] == model.TYPE_INTR)
        if not ok:
            bad.append(f"{v} (target {hx(g['offset'])}, sel {hx(g['selector'])}, "
                       f"type {hx(g['type'])}, P={g['present']})")
    assert not bad, ("expected interrupt gates to trap_vector<v> on KERNEL_CS; these are not: "
                     + "; ".join(bad[:6]))


@pytest.mark.points(2)
def test_idt_bytes_match_model(boots):
    """The whole idt in memory equals the model's 32 exception gates, then zero gates (but the kit's UART gate, vector 36)."""
    m, base, limit = idt_gates(boots)
    assert_idtr_is_yours(boots, base)
    raw = m.read_virt(base, IDT_ENTRIES * model.GATE_BYTES)
    for v in range(IDT_ENTRIES):
        got = raw[v * model.GATE_BYTES:(v + 1) * model.GATE_BYTES]
        if v < EXCEPTIONS:
            lo, hi = model.encode_gate(boots.sym.addr(f"trap_vector{v}"), KERNEL_CS, model.TYPE_INTR,
                                       3 if v == BP else 0, IST_DOUBLE_FAULT if v == DF else 0)
            want = lo.to_bytes(8, "little") + hi.to_bytes(8, "little")
            why = "an interrupt gate to trap_vector<v> on KERNEL_CS, DPL 0 (3 for #BP), IST 0 (1 for #DF)"
        elif v == SERIAL_VECTOR:  # lab_main adds it once idt_init returns (trap_serial_gate)
            lo, hi = model.encode_gate(boots.sym.addr("serial_interrupt"), KERNEL_CS, model.TYPE_INTR, 0, 0)
            want = lo.to_bytes(8, "little") + hi.to_bytes(8, "little")
            why = ("the kit's gate for the UART, added after idt_init: did idt_init write past "
                   "the 32 exception gates, or not zero the rest first?")
        else:
            want, why = bytes(model.GATE_BYTES), "not present: all zero"
        assert got == want, (f"gate {v} in memory is lo=0x{got[7::-1].hex()} hi=0x{got[:7:-1].hex()}, "
                             f"expected lo=0x{want[7::-1].hex()} hi=0x{want[:7:-1].hex()}: {why}")


def expect_gate_panic(boots, name, what):
    """The refusal boot `name` stopped in a panic called from idt_gate_encode."""
    args = boots.refusals[name]
    call = "idt_gate_encode(" + ", ".join(hx(a) for a in args) + ")"
    m, out = boots.fatal(name)
    assert "PANIC" in out and "idt_gate_encode returned" not in out, (
        f"{call} ({what}) must panic; it returned:\n{out.strip()[-300:]}")
    m.assert_panicked_in("idt_gate_encode", call)


@pytest.mark.points(1)
def test_gate_encode_panics_on_bad_type(boots):
    """idt_gate_encode panics on a type that is neither an interrupt (0xe) nor a trap gate (0xf)."""
    expect_gate_panic(boots, "gate_bad_type", "a bad type")


@pytest.mark.points(1)
def test_gate_encode_panics_on_dpl_4(boots):
    """idt_gate_encode panics on DPL 4, the first past 3."""
    expect_gate_panic(boots, "gate_dpl4", "DPL 4")


@pytest.mark.points(1)
def test_gate_encode_panics_on_ist_8(boots):
    """idt_gate_encode panics on IST 8, the first past 7."""
    expect_gate_panic(boots, "gate_ist8", "IST 8")


@pytest.mark.points(8)
def test_gate_encoding_matches_model(boots):
    """idt_gate_encode (the `gate` command) gives the model's quadwords for random gates."""
    r = boots.rng
    samples = [(r.getrandbits(64), r.getrandbits(16), model.TYPE_TRAP, 3, 7),   # the largest
               (r.getrandbits(64), r.getrandbits(16), model.TYPE_INTR, 0, 0)]
    samples += [(r.getrandbits(64), r.getrandbits(16), r.choice([model.TYPE_INTR, model.TYPE_TRAP]),
                 r.randrange(4), r.randrange(8)) for _ in range(GATE_SAMPLES)]
    lines = ["gate " + " ".join(hx(a) for a in args) for args in samples]
    for line, args, out in zip(lines, samples, boots.commands(*lines)):
        got = model.gate_line(out)
        want = model.encode_gate(*args)
        assert got is not None, f"`{line}`: expected a line 'gate lo=.. hi=..', got:\n{out.strip()}"
        assert got == want, (f"`{line}`: lo={hx(got[0])} hi={hx(got[1])}, expected "
                             f"lo={hx(want[0])} hi={hx(want[1])}{gate_encode_cause(args, got)}")


@pytest.mark.points(8)
def test_pferr_decoder_every_combination(boots):
    """pferr_decode names every combination of the defined error-code bits as the model does."""
    r = boots.rng
    noise = model.undefined_noise(r)
    got = model.decoded_lines(boots.commands(f"pferr all {hx(noise)}")[0])
    codes = [c | noise for c in model.every_defined_combination()]
    codes += [r.getrandbits(32) for _ in range(RANDOM_CODES)]
    line = "pferr " + " ".join(hx(c) for c in codes[-RANDOM_CODES:])
    got.update(model.decoded_lines(boots.commands(line)[0]))
    for c in codes:
        assert c in got, f"expected a line 'pferr {hx(c)} [..]' from `pferr`; it printed none"
        assert got[c] == model.decode(c), (
            f"error code {hx(c)} decoded as [{got[c]}], expected [{model.decode(c)}]"
            + (" (ignore the bits <kit/pferr.h> does not define)" if c & ~model.DEFINED else "")
            + pferr_cause([(k, got.get(k)) for k in codes]))


@pytest.mark.points(2)
def test_pferr_decode_stays_within_size(boots):
    """pferr_decode into a buffer too small writes at most size bytes, NUL-terminated, the text's start."""
    r = boots.rng
    cases = [(1, 0x1F), (8, 0x1F), (12, model.P | model.RSVD | model.I),
             (r.randrange(2, 40), r.getrandbits(32) | model.RSVD | model.I)]
    m, probe = boots.ready("main"), boots.sym.addr("pferr_probe")
    for size, code in cases:
        boots.commands(f"pferrn {size} {hx(code)}")
        got = m.read_virt(probe, PFERR_PROBE_BYTES)
        text = model.decode(code)[:size - 1].encode()
        want = text + b"\0" + bytes([PFERR_PROBE_FILL]) * (PFERR_PROBE_BYTES - len(text) - 1)
        assert got == want, (
            f"pferr_decode({hx(code)}, buf, {size}) left buf = {got[:size + 24]!r}..., expected "
            f"{want[:size + 24]!r}...: the first {size - 1} bytes of [{model.decode(code)}], a NUL, "
            f"and nothing written past buf[{size - 1}]")


# ---- page faults (one boot each) ----------------------------------------------------------

@pytest.mark.points(6)
def test_write_unmapped_deadbeaf(boots):
    """A kernel write to unmapped 0xdeadbeaf is reported as CPU and model say, in probe_write."""
    m, out = boots.fatal("write_deadbeaf")
    check_page_fault(boots, "write_deadbeaf", out, DEADBEAF, "probe_write",
                     expect_err=(model.P | model.W | model.U, model.W))


@pytest.mark.points(6)
def test_read_unmapped_random(boots):
    """A kernel read of a random unmapped address is reported as a not-present read."""
    m, out = boots.fatal("read_unmapped")
    check_page_fault(boots, "read_unmapped", out, boots.addr("read_unmapped"), "probe_read",
                     expect_err=(model.P | model.W | model.U, 0))


@pytest.mark.points(6)
def test_code_page_read_works_write_faults(boots):
    """Reading a random code address works; writing it is a protection fault on a write."""
    addr = boots.addr("code_page")
    m, out = boots.fatal("code_page")
    want = int.from_bytes(m.read_virt(addr, 8), "little")
    assert f"peek {hx(addr)}: 0x{want:016x}" in out, (
        f"reading code at {hx(addr)}: expected 'peek {hx(addr)}: 0x{want:016x}' before the "
        f"write. The kernel printed:\n{out.strip()[-1200:]}")
    check_page_fault(boots, "code_page", out, addr, "probe_write",
                     expect_err=(model.P | model.W | model.U, model.P | model.W))


@pytest.mark.points(6)
def test_fetch_from_nx_page(boots):
    """Jumping into a no-execute data page is a fetch + protection fault at that address."""
    addr = boots.addr("nx_fetch")
    m, out = boots.fatal("nx_fetch")
    rep, exc = check_page_fault(boots, "nx_fetch", out, addr, None,
                                expect_err=(model.P | model.I | model.U, model.P | model.I))
    assert rep["rip"] == addr, (
        f"reported rip {hx(rep['rip'])}, expected {hx(addr)}: a fetch fault's RIP is the target")
    ret = int.from_bytes(m.read_virt(exc.rsp, 8), "little")
    assert boots.sym.function_at(ret) == "probe_exec", (
        f"expected the call from probe_exec; the return address {hx(ret)} is not in it")


@pytest.mark.points(6)
def test_user_read_supervisor_page(boots):
    """A ring-3 read of a supervisor page is a user + protection fault in user_read_probe."""
    m, out = boots.fatal("user_read")
    check_page_fault(boots, "user_read", out, boots.addr("user_read"), "user_read_probe",
                     expect_err=(model.P | model.W | model.U, model.P | model.U), user=True)


@pytest.mark.points(6)
def test_user_write_readonly_page(boots):
    """A ring-3 write to a read-only user page is reported as a user write protection fault."""
    m, out = boots.fatal("user_write")
    check_page_fault(boots, "user_write", out, boots.addr("user_write"), "user_write_probe",
                     expect_err=(model.P | model.W | model.U, model.P | model.W | model.U),
                     user=True)


@pytest.mark.points(6)
def test_reserved_bit_fault(boots):
    """Reading a page whose entry has a reserved bit set is reported with the reserved-bit flag."""
    m, out = boots.fatal("rsvd")
    check_page_fault(boots, "rsvd", out, boots.addr("rsvd"), "probe_read",
                     expect_err=(model.RSVD | model.W | model.U, model.RSVD))


# ---- double fault and ring-3 breakpoint -----------------------------------------------------

@pytest.mark.points(10)
def test_stack_overflow_double_fault_on_ist(boots):
    """A kernel stack overflow ends in your double-fault report on the IST 1 stack."""
    try:
        m, out = boots.fatal("overflow")
    except KernelError as e:
        if e.verdict == "triple-fault":
            raise KernelError("triple-fault", str(e) + "\n  The #DF gate needs IST 1 (a fresh "
                              "stack): the kernel stack is gone when the double fault comes.")
        raise
    guard = boots.sym.addr("kstack_guard")
    pf = next((e for e in exceptions(m) if e.vector == PF and e.cr2 is not None
               and guard <= e.cr2 < guard + PAGE), None)
    assert pf is not None, ("expected a page fault in the stack's guard page; QEMU recorded "
                            "none: the recursion did not run")
    df = the_fault(m, DF)
    assert df is not None, "expected a double fault; QEMU recorded none"
    assert not m.triple_faulted(), "triple fault: the machine reset after the double fault"
    rep = model.double_fault_report(out)
    assert rep is not None, ("expected a 'DOUBLE FAULT err=.. rip=.. rsp=.. stack=..' report. "
                             "The kernel printed:\n" + out.strip()[-1200:])
    r = assert_stopped(boots, m, "The double-fault handler")
    top = boots.sym.addr("ist1_stack_top")
    for what, sp in (("QEMU's RSP after the stop", r.rsp), ("your reported stack", rep["stack"])):
        assert top - STACK_BYTES <= sp < top, (
            f"{what} {hx(sp)} is not on the IST 1 stack [{hx(top - STACK_BYTES)}, {hx(top)})")
    assert rep["rsp"] == df.rsp, (
        f"reported interrupted rsp {hx(rep['rsp'])}, expected {hx(df.rsp)}, which the CPU pushed")


@pytest.mark.points(6)
def test_user_int3_returns_to_ring3(boots):
    """int3 from ring 3 reaches breakpoint_handler (DPL 3) and ring 3 runs on afterwards."""
    addr = boots.addr("user_int3")
    m, out = boots.fatal("user_int3")
    gp = the_fault(m, GP)
    assert gp is None, f"int3 from ring 3 raised #GP ({gp}): expected the #BP gate with DPL 3"
    bp = the_fault(m, BP, cpl=3)
    seen = ", ".join(str(e) for e in exceptions(m)) or "no exception"
    assert bp is not None, f"expected a ring-3 breakpoint; QEMU recorded {seen}" + m.tail()
    bps = model.breakpoint_reports(out)
    assert bps and bps[0]["rip"] == bp.rip + 1 and bps[0]["cs"] == USER_CS, (
        f"expected 'BREAKPOINT rip={hx(bp.rip + 1)} cs={hx(USER_CS)}'; the kernel printed:\n"
        + out.strip()[-1200:])
    check_page_fault(boots, "user_int3", out, addr, "user_int3_probe", user=True)


# ---- last on the shared boot: a handler that does not return ends it -------------------

@pytest.mark.points(6)
def test_int3_returns(boots):
    """int3 in the kernel reaches breakpoint_handler, which reports the next RIP and returns."""
    word = f"w{boots.rng.getrandbits(40):x}"
    out = boots.commands(f"int3 {word}")[0]
    m = boots.pool["main"]
    exc = [e for e in exceptions(m) if e.vector == BP and e.cpl == 0]
    assert exc, "expected a breakpoint exception from `int3`; QEMU recorded none" + m.tail()
    bps = model.breakpoint_reports(out)
    assert bps, ("expected a 'BREAKPOINT rip=0x.. cs=0x..' report. The kernel printed:\n"
                 + out.strip())
    assert bps[-1]["rip"] == exc[-1].rip + 1 and bps[-1]["cs"] == KERNEL_CS, (
        f"reported rip={hx(bps[-1]['rip'])} cs={hx(bps[-1]['cs'])}, but the CPU pushed "
        f"rip={hx(exc[-1].rip + 1)} (after the int3) cs={hx(KERNEL_CS)}")
    assert f"after int3 {word}" in out, ("expected 'after int3 " + word + "': execution did not "
                                         "continue after int3")
