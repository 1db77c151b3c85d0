"""Lab 1: segment descriptors, the kernel GDT and TSS, protection checks, a call gate.

Nothing here takes the kernel's word. The GDT is found through QEMU's GDTR and
decoded from physical memory; segment registers and TR come from QEMU's
`info registers`; every fault is read from QEMU's own exception record
(-d int); the expected values come from the grader's model
(models/segments.py). Descriptors, selectors, registers, instructions, ports
and the ring-3 stack depth are chosen at random per run.

Boots, started together when the module starts (only those the selected tests
need): "main" (shared by the non-fatal checks, booted through GRUB) and one
fresh boot per fatal scenario, which gets its monitor commands in the `run=`
boot parameter (labs/01-segmentation/scenarios.c), so it goes straight to
its fault and halts. Fatal tests come first in this file, so their machines
are done before the shared boot's commands run.
"""
import re

import pytest

from harness import config, qemulog, symbols
from models import segments as model

LAB = "01-segmentation"
ENCODE_SAMPLES = 16
USER_STACK_BYTES = 4096     # labs/01-segmentation/scenarios.c
TEST_SEL = 0x48             # scenarios.c: the testdesc slot, first past the student's GDT
GP0 = (model.GP, 0)
PRIVILEGED = ("hlt", "cli", "sti", "rdcr3", "wrcr3", "rdmsr", "lgdt", "invlpg")
SEG_LIMIT_MAX = 0xFFFFF
SAFE_PORTS = [*range(0x80, 0x90), *range(0x200, 0x2f0)]  # DMA page registers, unassigned


class Plan:
    """What this run chose: each fatal boot's scenario (its `run=` parameter)."""

    def __init__(self, rng):
        r = self.rng = rng
        reg = lambda: r.choice(model.DATA_SREGS + ("ss",))  # noqa: E731
        self.np = (reg(), (r.getrandbits(32), r.getrandbits(20), model.access(p=0, dpl=0, rw=1),
                           r.getrandbits(4) & ~model.FLAG_L))
        self.beyond = (reg(), (r.randrange(model.GDT_ENTRIES + 1, 0x2000) << 3) | r.randrange(4))
        exec_only = (r.getrandbits(32), r.getrandbits(20), model.access(p=1, dpl=3, code=1),
                     r.choice((model.FLAG_L, model.FLAG_DB | model.FLAG_G)))
        self.wrong_type = r.choice([("ss", model.KERNEL_CS, None), ("ss", model.USER_CS, None),
                                    (r.choice(model.DATA_SREGS), model.TSS_SEL, None),
                                    (r.choice(model.DATA_SREGS), TEST_SEL | 3, exec_only)])
        self.user_reg = reg()
        self.kdata = (reg(), model.KERNEL_DS | r.choice((0, 3)))
        self.insn = r.choice(PRIVILEGED)
        self.io = (r.choice(("in", "out")), r.choice(SAFE_PORTS))
        np_reg, np_desc = self.np
        # refusals, each on its own boot (a panic ends it): just past each bound
        self.wide_limit = (r.getrandbits(32), SEG_LIMIT_MAX + 1, r.getrandbits(8), r.getrandbits(4))
        self.wide_flags = (r.getrandbits(32), r.getrandbits(20), r.getrandbits(8), 0x10)
        self.s_access = (r.getrandbits(64), r.getrandbits(20), r.getrandbits(8) | model.ACC_S)
        hexes = lambda vs: ':'.join(hex(v) for v in vs)  # noqa: E731
        # boot -> (the `run=` scenario, prefixes of the tests that use the boot)
        self.boots = {
            "main": (None, "test_seg_encode_matches test_sysdesc_encode_matches test_gdtr test_gdt_ "
                           "test_segment_registers test_tr_ test_tss_ test_load_test_descriptor"),
            "np": (f"testdesc:{':'.join(hex(v) for v in np_desc)},load:{np_reg}:{hex(TEST_SEL)}",
                   "test_load_not_present"),
            "beyond": (f"load:{self.beyond[0]}:{hex(self.beyond[1])}", "test_load_beyond"),
            "wrongtype": (self.wrong_type_run(), "test_load_wrong_type"),
            "udata": (f"uload:{self.user_reg}:{hex(model.USER_DS)}", "test_ring3_loads_user_data"),
            "kdata": (f"uload:{self.kdata[0]}:{hex(self.kdata[1])}", "test_ring3_cannot_load_kernel"),
            "priv": (f"user:{self.insn}", "test_ring3_privileged"),
            "io": (f"user:{self.io[0]}:{hex(self.io[1])}", "test_ring3_port_io"),
            "gate": ("gate", "test_callgate"),
            "widelimit": (f"encode:{hexes(self.wide_limit)}", "test_seg_encode_panics_on_wide_limit"),
            "wideflags": (f"encode:{hexes(self.wide_flags)}", "test_seg_encode_panics_on_wide_flags"),
            "sysdesc_s": (f"sysencode:{hexes(self.s_access)}", "test_sysdesc_encode_panics_on_code_data"),
        }
        self.ustack = {name: r.randrange(0, USER_STACK_BYTES - 512, 16) for name in self.boots}

    def wrong_type_run(self):
        reg, sel, desc = self.wrong_type
        load = f"load:{reg}:{hex(sel)}"
        return f"testdesc:{':'.join(hex(v) for v in desc)},{load}" if desc else load

    def params(self, name):
        run = self.boots[name][0]
        p = dict(seed=self.rng.getrandbits(32), ustack=self.ustack[name])
        if run:
            p["run"] = run
        return p

    def command(self, name):
        """The scenario as a student would type it at the prompt."""
        return self.boots[name][0].replace(",", "` then `").replace(":", " ")


class Boots:
    def __init__(self, pool, selected):
        self.pool = pool
        self.rng = config.new_rng(LAB)
        self.seed = self.rng.seed_value
        self.plan = Plan(self.rng)
        # the shared boot goes through GRUB, as students run it; the rest PVH
        pool.start_many([(name, LAB, dict(via="grub" if name == "main" else "pvh",
                                          **self.plan.params(name)))
                         for name, (run, prefixes) in self.plan.boots.items()
                         if any(t.startswith(p) for p in prefixes.split() for t in selected)])
        self.cache = {}

    def ready(self, name):
        m = self.pool[name]
        if not getattr(m, "prompt_seen", False):
            m.wait_prompt()
            m.prompt_seen = True
        return m

    def once(self, key, fn):
        return self.pool.once(key, fn)

    def why(self):
        return f"(KIT_SEED={self.seed} repeats this run)"

    def user_rsp(self, name):
        return sym("user_stack") + USER_STACK_BYTES - self.plan.ustack[name]


@pytest.fixture(scope="module")
def boots(machine_pool, request):
    selected = [item.name for item in request.session.items if item.module is request.module]
    return Boots(machine_pool, selected)


def sym(name):
    return symbols.load(str(config.kernel_elf(LAB))).addr(name)


def where(addr):
    s = symbols.load(str(config.kernel_elf(LAB)))
    name, off = s.lookup(addr)
    return f"0x{addr:x} ({name}+0x{off:x})" if name else f"0x{addr:x}"


_SERVICING = re.compile(r"^Servicing hardware INT=0x([0-9a-f]+)\n(?!\s*\d+: v=\1 )", re.M)


def exceptions(m):
    """QEMU's exception record. A "Servicing hardware INT" line marks a hardware
    interrupt only when the v= line right after it has the same vector; the
    firmware's real-mode timer ticks leave such lines with no v= line of their own,
    so they are dropped first and cannot hide the kernel's first exception."""
    return qemulog.exceptions(_SERVICING.sub("", m.log()))


def read_linear(m, va, n):
    """n bytes at virtual address va, translated page by page with QEMU's gva2gpa."""
    out = b""
    while len(out) < n:
        pa = m.gva2gpa(va + len(out))
        assert pa is not None, f"0x{va + len(out):x} is not mapped (QEMU's gva2gpa)"
        chunk = min(n - len(out), 4096 - (pa & 0xFFF))
        out += m.read_phys(pa, chunk)
    return out


# ---- fatal scenarios: one fresh boot each ------------------------------------------

def scenario(boots, name):
    """Wait (once) for boot `name` to stop after its scenario; return (machine, exceptions, command)."""
    return boots.once(("scenario", name), lambda: wait_scenario(boots, name))


def wait_scenario(boots, name):
    m = boots.pool[name]
    cmd = boots.plan.command(name)
    try:
        out = m.wait_stop()
    finally:
        m.prompt_seen = True
    excs = exceptions(m)
    assert "run: " in out, (
        f"the kernel stopped unexpectedly during boot, before the scenario `{cmd}` could run; QEMU "
        f"recorded:{describe(excs) or ' no exception'}{m.tail()}")
    assert excs, f"`{cmd}` stopped the kernel, but QEMU recorded no exception:{m.tail()}"
    return m, excs, cmd


def describe(excs):
    return "".join(f"\n    {e}" for e in excs[:4])


def fault_name(vec):
    return {model.GP: "#GP", model.NP: "#NP", model.SS_FAULT: "#SS"}.get(vec, f"vector {vec}")


def expect_fault(e, excs, want, cpl, function, cmd, why):
    """QEMU's first exception is want = (vector, error) from CPL cpl, raised inside function."""
    vec, err = want
    name = fault_name(vec)
    assert (e.vector, e.error) == (vec, err), (
        f"`{cmd}` must raise {name}(0x{err:x}); QEMU recorded:{describe(excs)}\n  {why}")
    assert e.cpl == cpl, f"`{cmd}`: {name} came from CPL {e.cpl}, expected {cpl}"
    s = symbols.load(str(config.kernel_elf(LAB)))
    got = s.function_at(e.rip) or s.lookup(e.rip)[0]
    assert got == function, f"`{cmd}`: {name} at {where(e.rip)}, expected in {function}"


def load_scenario(boots, name, reg, sel):
    """A ring-0 load: the exception the grader's model predicts from the GDT in QEMU's memory."""
    m, excs, cmd = scenario(boots, name)
    gbase, glimit = m.regs().gdt
    table = model.table(read_linear(m, gbase, min(glimit, 0x7FF) + 1))
    want = model.load_outcome(reg, sel, 0, table, glimit)
    assert want is not None, f"`{cmd}` must fault, but the GDT in memory lets it load"
    return excs[0], excs, want, cmd


@pytest.mark.points(3)
def test_load_not_present_raises_np_or_ss(boots):
    """A not-present data descriptor raises #NP(selector), or #SS(selector) when loaded into SS."""
    reg, desc = boots.plan.np
    e, excs, want, cmd = load_scenario(boots, "np", reg, TEST_SEL)
    assert want[0] in (model.NP, model.SS_FAULT), (
        f"seg_encode({', '.join(hex(v) for v in desc)}) does not give the not-present data "
        f"descriptor {model.decode(model.encode(*desc))} {boots.why()}")
    expect_fault(e, excs, want, 0, "load_segment", cmd,
                 "P = 0 passes the type and privilege checks, then faults as not present")


@pytest.mark.points(2)
def test_load_beyond_gdt_limit_raises_gp(boots):
    """A selector past the GDT's limit raises #GP with the selector (RPL bits cleared) as error code."""
    reg, sel = boots.plan.beyond
    e, excs, want, cmd = load_scenario(boots, "beyond", reg, sel)
    assert want == (model.GP, sel & 0xFFF8), f"the GDT's limit covers selector 0x{sel:x}"
    expect_fault(e, excs, want, 0, "load_segment", cmd, "the GDTR limit ends before this index")


@pytest.mark.points(2)
def test_load_wrong_type_raises_gp(boots):
    """Code into SS, a TSS or execute-only code into a data register, raises #GP(selector)."""
    reg, sel, _ = boots.plan.wrong_type
    e, excs, want, cmd = load_scenario(boots, "wrongtype", reg, sel)
    expect_fault(e, excs, want, 0, "load_segment", cmd,
                 "SS takes only writable data; DS/ES/FS/GS take data or readable code, never "
                 "system descriptors such as the TSS")


def check_user_frame(e, boots, name, cmd):
    assert e.cs == model.USER_CS and e.ss == model.USER_DS, (
        f"`{cmd}`: the fault came from CS 0x{e.cs:x} SS 0x{e.ss:x}, expected ring 3's "
        f"0x{model.USER_CS:x}/0x{model.USER_DS:x}")
    assert e.rsp == boots.user_rsp(name), (
        f"`{cmd}`: ring 3's RSP was 0x{e.rsp:x}, expected 0x{boots.user_rsp(name):x}")


@pytest.mark.points(2)
def test_ring3_loads_user_data_segment(boots):
    """Ring 3 loads the user data selector 0x1b into a data register or SS without a fault."""
    reg = boots.plan.user_reg
    m, excs, cmd = scenario(boots, "udata")
    e = excs[0]
    assert e.vector == 6 and e.cpl == 3 and e.rip == sym("user_done"), (
        f"`{cmd}` must run to ring 3's ud2 at user_done (0x{sym('user_done'):x}); QEMU "
        f"recorded:{describe(excs)}\n  the user data descriptor needs DPL 3 and must be writable")
    if reg != "ss":
        seg = m.regs().seg[reg.upper()]
        assert seg.selector == model.USER_DS, f"QEMU shows {reg} = 0x{seg.selector:x} after the load"
    check_user_frame(e, boots, "udata", cmd)


@pytest.mark.points(3)
def test_ring3_cannot_load_kernel_data(boots):
    """Ring 3 loading the kernel data selector raises #GP(0x10) at the load."""
    reg, sel = boots.plan.kdata
    m, excs, cmd = scenario(boots, "kdata")
    expect_fault(excs[0], excs, (model.GP, model.KERNEL_DS), 3, f"user_load_{reg}", cmd,
                 "DPL 0 < CPL 3: ring 3 may not load the kernel's data segment")
    check_user_frame(excs[0], boots, "kdata", cmd)


def check_rsp0_frame(m, e, boots, name, cmd):
    """The CPU pushed the ring-3 fault's frame at the top of the TSS's RSP0 stack."""
    top = sym("rsp0_stack_top")
    raw = m.read_virt(top - 48, 48)
    err, rip, cs, _rflags, rsp, ss = (int.from_bytes(raw[i:i + 8], "little") for i in range(0, 48, 8))
    assert (rip, cs, rsp, ss) == (e.rip, model.USER_CS, boots.user_rsp(name), model.USER_DS), (
        f"`{cmd}`: the top of the RSP0 stack (0x{top:x}) holds no frame of the ring-3 fault "
        f"(RIP 0x{rip:x} CS 0x{cs:x} RSP 0x{rsp:x} SS 0x{ss:x}): the CPU took another stack, "
        f"so TSS.RSP0 is wrong")


@pytest.mark.points(3)
def test_ring3_privileged_instruction_raises_gp0(boots):
    """A privileged instruction in ring 3 raises #GP(0) with CS RPL 3, on the TSS's RSP0 stack."""
    insn = boots.plan.insn
    m, excs, cmd = scenario(boots, "priv")
    expect_fault(excs[0], excs, GP0, 3, f"user_{insn}", cmd, "CPL 3 may not run this instruction")
    check_user_frame(excs[0], boots, "priv", cmd)
    check_rsp0_frame(m, excs[0], boots, "priv", cmd)


@pytest.mark.points(3)
def test_ring3_port_io_raises_gp0(boots):
    """in/out from ring 3 raises #GP(0): IOPL is 0 and the TSS grants no port."""
    insn, port = boots.plan.io
    m, excs, cmd = scenario(boots, "io")
    expect_fault(excs[0], excs, GP0, 3, f"user_{insn}", cmd,
                 "with IOPL 0 the CPU consults the TSS's I/O bitmap at iomap_base; an "
                 "iomap_base past the TSS limit means no bitmap, so no port")
    check_user_frame(excs[0], boots, "io", cmd)


@pytest.mark.points(3)
def test_callgate_descriptor(boots):
    """Slot 0x38 is a present 64-bit call gate, DPL 3, to gate_entry in the kernel code segment."""
    m, excs, cmd = scenario(boots, "gate")
    gbase, glimit = m.regs().gdt
    table = model.table(read_linear(m, gbase, min(glimit, 0x7FF) + 1))
    assert len(table) > (model.CALLGATE_SEL >> 3) + 1, f"GDTR limit 0x{glimit:x} ends before the gate slot"
    lo, hi = table[model.CALLGATE_SEL >> 3], table[(model.CALLGATE_SEL >> 3) + 1]
    g = model.decode_gate(lo, hi)
    what = f"call gate at 0x{model.CALLGATE_SEL:02x} (0x{lo:016x} 0x{hi:016x})"
    assert g.p and not g.s and g.type == model.CALL_GATE, (
        f"{what}: must be present with S = 0 and type 0x{model.CALL_GATE:x}")
    assert g.dpl == 3, f"{what}: DPL {g.dpl}; ring 3 may use the gate only if its DPL is 3"
    assert g.selector == model.KERNEL_CS, f"{what}: selector 0x{g.selector:x}, expected 0x08"
    assert g.target == sym("gate_entry"), (
        f"{what}: target {where(g.target)}, expected gate_entry 0x{sym('gate_entry'):x}")
    assert g.high_type == 0, f"{what}: bits 12:8 of the upper half must be 0"


@pytest.mark.points(4)
def test_callgate_enters_ring0_on_rsp0_and_returns(boots):
    """A far call through the gate reaches gate_entry at CPL 0 on RSP0, and lretq returns to ring 3."""
    m, excs, cmd = scenario(boots, "gate")
    e, top = excs[0], sym("rsp0_stack_top")
    assert e.vector == 3 and e.cpl == 0 and e.rip == sym("gate_entry"), (
        f"`gate`: ring 3's far call must reach gate_entry (0x{sym('gate_entry'):x}) at CPL 0, "
        f"where int3 shows it; QEMU recorded:{describe(excs)}")
    assert e.cs == model.KERNEL_CS, f"the gate entered with CS 0x{e.cs:x}, expected 0x08"
    assert e.rsp == top - 32, (
        f"at gate_entry RSP = 0x{e.rsp:x}; the CPU switches to TSS.RSP0 (0x{top:x}) and pushes "
        f"SS, RSP, CS, RIP, so expected 0x{top - 32:x}")
    back = excs[1] if len(excs) > 1 else None
    assert back and back.vector == 6 and back.cpl == 3 and back.rip == sym("user_gate_back"), (
        f"after lretq, ring 3 must reach its ud2 at user_gate_back "
        f"(0x{sym('user_gate_back'):x}); QEMU recorded:{describe(excs)}")
    check_user_frame(back, boots, "gate", cmd)


def expect_panic(boots, name, function, call):
    """Boot `name` stopped in a panic called from function (read from QEMU's stack)."""
    m = boots.pool[name]
    try:
        out = m.wait_stop()
    finally:
        m.prompt_seen = True
    assert "run: " in out, (f"the kernel stopped unexpectedly during boot, before "
                            f"`{boots.plan.command(name)}` could run:{m.tail()}")
    after = out[out.index("run: "):]
    assert "PANIC" in after, (
        f"{call} must panic; it returned and `{boots.plan.command(name)}` printed:\n"
        f"{after.strip()[-300:]}\n{boots.why()}")
    m.assert_panicked_in(function, call)


@pytest.mark.points(1)
def test_seg_encode_panics_on_wide_limit(boots):
    """seg_encode panics on a limit of 0x100000, the first that does not fit 20 bits."""
    b, l, a, f = boots.plan.wide_limit
    expect_panic(boots, "widelimit", "seg_encode", f"seg_encode(0x{b:x}, 0x{l:x}, 0x{a:x}, 0x{f:x})")


@pytest.mark.points(1)
def test_seg_encode_panics_on_wide_flags(boots):
    """seg_encode panics on flags 0x10, the first that does not fit 4 bits."""
    b, l, a, f = boots.plan.wide_flags
    expect_panic(boots, "wideflags", "seg_encode", f"seg_encode(0x{b:x}, 0x{l:x}, 0x{a:x}, 0x{f:x})")


@pytest.mark.points(1)
def test_sysdesc_encode_panics_on_code_data(boots):
    """sysdesc_encode panics on an access byte with S set (a code or data type)."""
    b, l, a = boots.plan.s_access
    expect_panic(boots, "sysdesc_s", "sysdesc_encode", f"sysdesc_encode(desc, 0x{b:x}, 0x{l:x}, 0x{a:02x})")


def seg_candidates(base, limit, acc, flags):
    """(the bug, the descriptor it gives) for the classic seg_encode mistakes, each
    built with the grader's encoder from the same arguments."""
    e = model.encode
    lo16, hi4 = limit & 0xFFFF, limit >> 16
    return [
        ("the limit was not split: its bits 19:16 must go to descriptor bits 51:48 (the flags "
         "byte's low nibble), not stay on top of the base at bits 19:16",
         e(base, lo16, acc, flags) | (limit & 0xF0000)),
        ("the limit's bits 19:16 were never put in descriptor bits 51:48 (the flags byte's low "
         "nibble): split the 20-bit limit into 15:0 and 19:16", e(base, lo16, acc, flags)),
        ("the limit's high nibble was taken as limit >> 12, not limit >> 16: the 4 KiB unit is "
         "the G flag's business, the encoder stores the limit's own bits",
         e(base, lo16 | ((limit >> 12) & 0xF) << 16, acc, flags)),
        ("the flags nibble and the limit's bits 19:16 were swapped (flags belong at 55:52, "
         "limit 19:16 at 51:48)", e(base, lo16 | (flags << 16), acc, hi4)),
        ("the access byte went to bits 39:32 instead of 47:40",
         (e(base, limit, 0, flags) | acc << 32) & (1 << 64) - 1),
        ("only base 15:0 was put in the low base field: base 23:16 belongs in bits 39:32",
         e(base & ~0xFF0000, limit, acc, flags)),
        ("the high base byte was taken as base >> 16 instead of base >> 24",
         e((base & 0xFFFFFF) | ((base >> 16) & 0xFF) << 24, limit, acc, flags)),
    ]


def seg_cause(out, base, limit, acc, flags):
    """': looks like <the bug>' when the printed descriptor is exactly what a classic
    mistake gives for these arguments (a limit with bits 19:16 zero cannot tell the
    limit mistakes apart from the right answer, so they need a nonzero nibble)."""
    try:
        got = int(out, 16)
    except ValueError:
        return ""
    if got == model.encode(base, limit, acc, flags):
        return ""
    for why, bad in seg_candidates(base, limit, acc, flags):
        if got == bad:
            return f"; it looks like {why}"
    return ""


def sysdesc_cause(out, base, limit, acc):
    """The likely cause when the low 8 bytes are right and the high 8 bytes are not."""
    words = out.split()
    try:
        lo, hi = (int(w, 16) for w in words)
    except ValueError:
        return ""
    if lo != model.encode(base & 0xFFFFFFFF, limit, acc, 0) or hi == base >> 32:
        return ""
    if hi == 0:
        return ("; the low half is right and the high half is 0: it looks like the descriptor's "
                "upper 8 bytes (base 63:32) were never written")
    if hi == base:
        return ("; the high half holds the whole base: it looks like base was stored without "
                "the >> 32")
    return ""


def desc_cause(got, want):
    """The likely cause of a GDT slot that differs from the handout's descriptor:
    the fields of the two decoded descriptors that differ, named as the access byte
    and flags constants that set them (the accessed bit aside)."""
    g, w = model.decode(got), model.decode(want)
    why = []
    if g.dpl != w.dpl:
        why.append(f"its DPL is {g.dpl}, not {w.dpl}: the access byte was built with "
                   f"SEG_ACC_DPL({g.dpl}) instead of SEG_ACC_DPL({w.dpl}) (bits 46:45)")
    if g.s and w.s and g.code != w.code:
        why.append(f"it is a {'code' if g.code else 'data'} segment where the handout has a "
                   f"{'code' if w.code else 'data'} one: the access byte's type "
                   f"{'has' if g.code else 'lacks'} SEG_ACC_CODE (bit 43)")
    elif g.s and w.s and g.rw != w.rw:
        plain = "execute-only code" if w.code else "read-only data"
        why.append(f"the access byte's type lacks SEG_ACC_RW (bit 41), which makes it {plain}"
                   if w.rw else "the access byte's type has SEG_ACC_RW (bit 41) where the handout has none")
    if g.g != w.g:
        why.append("the G flag (bit 55) is " + ("clear: the limit 0xfffff counts bytes, so the "
                   "segment ends at 1 MiB instead of 4 GiB" if w.g else "set where the handout has none"))
    if g.l != w.l or g.db != w.db:
        why.append(f"the flags give L={g.l} D={g.db}, the handout L={w.l} D={w.db}")
    if g.limit != w.limit or g.base != w.base:
        why.append(f"base/limit 0x{g.base:x}/0x{g.limit:x}, not 0x{w.base:x}/0x{w.limit:x}")
    return "; it looks like " + "; ".join(why) if why else ""


# ---- the shared boot: what gdt_init left behind -------------------------------------

class Snapshot:
    """QEMU's registers and the GDT/TSS bytes right after boot, before any command."""

    def __init__(self, m):
        self.regs = m.regs()
        base, limit = self.regs.gdt
        self.gdt_base, self.gdt_limit = base, limit
        assert limit < 0x10000 and limit >= 7, f"GDTR limit 0x{limit:x} cannot hold a GDT"
        self.gdt = model.table(read_linear(m, base, limit + 1))
        self.tss = read_linear(m, sym("tss"), model.TSS_BYTES)

    def desc(self, sel):
        i = sel >> 3
        assert i < len(self.gdt), (f"the GDT's limit 0x{self.gdt_limit:x} ends before selector "
                                   f"0x{sel:x}: it must hold {model.GDT_ENTRIES} slots")
        return model.decode(self.gdt[i])


def snapshot(boots):
    return boots.once("snapshot", lambda: Snapshot(boots.ready("main")))


@pytest.mark.points(4)
def test_seg_encode_matches_model(boots):
    """seg_encode of random (base, limit, access, flags) tuples equals the grader's encoder."""
    m = boots.ready("main")
    r = boots.rng
    cases = [(0, 0xFFFFF, 0x9A, 0xA), (0xFFFFFFFF, SEG_LIMIT_MAX, 0xFF, 0xF), (0, 0, 0, 0),
             (r.getrandbits(32), SEG_LIMIT_MAX, r.getrandbits(8), 0xF)] + [
        (r.getrandbits(32), r.getrandbits(20), r.getrandbits(8), r.getrandbits(4))
        for _ in range(ENCODE_SAMPLES)]
    outs = m.commands([f"encode 0x{b:x} 0x{l:x} 0x{a:x} 0x{f:x}" for b, l, a, f in cases])
    for (base, limit, acc, flags), out in zip(cases, outs):
        out = out.strip()
        want = model.encode(base, limit, acc, flags)
        assert out == f"0x{want:016x}", (
            f"seg_encode(0x{base:x}, 0x{limit:x}, 0x{acc:02x}, 0x{flags:x}) printed {out!r}, "
            f"expected 0x{want:016x}: {model.decode(want)}{seg_cause(out, base, limit, acc, flags)} "
            f"{boots.why()}")


@pytest.mark.points(2)
def test_sysdesc_encode_matches_model(boots):
    """sysdesc_encode of random 64-bit bases and system access bytes gives the model's 16 bytes."""
    m, r = boots.ready("main"), boots.rng
    cases = [(r.getrandbits(64), SEG_LIMIT_MAX, model.access(p=1, dpl=0, s=0) | model.TSS_AVAIL)] + [
        (r.getrandbits(64), r.getrandbits(20), r.getrandbits(8) & ~model.ACC_S) for _ in range(4)]
    outs = m.commands([f"sysencode 0x{b:x} 0x{l:x} 0x{a:x}" for b, l, a in cases])
    for (base, limit, acc), out in zip(cases, outs):
        want = f"0x{model.encode(base & 0xFFFFFFFF, limit, acc, 0):016x} 0x{base >> 32:016x}"
        assert out.strip() == want, (
            f"sysdesc_encode(desc, 0x{base:x}, 0x{limit:x}, 0x{acc:02x}) gave {out.strip()!r}, "
            f"expected {want}: seg_encode's 8 bytes with flags 0, then base >> 32"
            f"{sysdesc_cause(out, base, limit, acc)} {boots.why()}")


@pytest.mark.points(2)
def test_gdtr_holds_the_kernel_gdt(boots):
    """QEMU's GDTR points at the ELF's `gdt` with the limit of GDT_ENTRIES slots."""
    s = snapshot(boots)
    assert s.gdt_base == sym("gdt"), (
        f"GDTR base is {where(s.gdt_base)}, not the kernel's gdt[] at 0x{sym('gdt'):x}: "
        f"did gdt_init run lgdt with gdt's address?")
    assert s.gdt_limit == 8 * model.GDT_ENTRIES - 1, (
        f"GDTR limit is 0x{s.gdt_limit:x}; {model.GDT_ENTRIES} slots of 8 bytes need limit "
        f"0x{8 * model.GDT_ENTRIES - 1:x} (size - 1)")


def check_code_data(d, sel, code, dpl):
    what = f"descriptor 0x{sel & ~3:02x} {d}"
    kind = "code" if code else "data"
    assert d.p, f"{what}: not present (access bit 7, SEG_ACC_P)"
    assert d.s, f"{what}: S is clear, so the CPU takes it for a system descriptor"
    assert d.code == code, (
        f"{what}: expected a {kind} segment: it looks like the access byte "
        f"{'has' if d.code else 'lacks'} SEG_ACC_CODE (bit 43)"
        + (" (the user code and data slots swapped?)" if sel & 3 else ""))
    assert d.dpl == dpl, (
        f"{what}: DPL is {d.dpl}, expected {dpl}: it looks like the access byte was built with "
        f"SEG_ACC_DPL({d.dpl}) instead of SEG_ACC_DPL({dpl}) (bits 46:45)")
    if code:
        assert d.l and not d.db, f"{what}: a 64-bit code segment has L = 1 and D = 0"
    else:
        assert d.rw, f"{what}: a data segment for DS/SS must be writable (SEG_ACC_RW)"


@pytest.mark.points(4)
def test_gdt_code_and_data_descriptors(boots):
    """The GDT read from memory holds null, kernel code/data (DPL 0) and user data/code (DPL 3)."""
    s = snapshot(boots)
    assert s.gdt[0] == 0, f"slot 0 must be the null descriptor, holds 0x{s.gdt[0]:016x}"
    check_code_data(s.desc(model.KERNEL_CS), model.KERNEL_CS, True, 0)
    check_code_data(s.desc(model.KERNEL_DS), model.KERNEL_DS, False, 0)
    check_code_data(s.desc(model.USER_DS), model.USER_DS, False, 3)
    check_code_data(s.desc(model.USER_CS), model.USER_CS, True, 3)


# The flat segments of handouts/01-segmentation.md (exercise 3): base 0, limit
# 0xfffff in 4 KiB units; code 64-bit and readable, data 32-bit and writable.
FLAT = {model.KERNEL_CS: (model.access(dpl=0, code=1, rw=1), model.FLAG_G | model.FLAG_L),
        model.KERNEL_DS: (model.access(dpl=0, rw=1), model.FLAG_G | model.FLAG_DB),
        model.USER_DS: (model.access(dpl=3, rw=1), model.FLAG_G | model.FLAG_DB),
        model.USER_CS: (model.access(dpl=3, code=1, rw=1), model.FLAG_G | model.FLAG_L)}


@pytest.mark.points(2)
def test_gdt_descriptor_bytes_match_handout(boots):
    """Slots 1-4 hold exactly the handout's flat descriptors (the accessed bit aside), byte for byte."""
    s = snapshot(boots)
    a = model.ACC_A << 40
    for sel, (acc, flags) in FLAT.items():
        got, want = s.desc(sel).raw, model.encode(0, SEG_LIMIT_MAX, acc, flags)
        assert got | a == want | a, (
            f"descriptor 0x{sel & ~3:02x} is {model.decode(got)}, expected {model.decode(want)}: "
            f"base 0, limit 0xfffff with G, access 0x{acc:02x}, flags 0x{flags:x}"
            f"{desc_cause(got | a, want | a)}")


def same_cache(seg, d):
    """QEMU's cached flags equal the descriptor's, ignoring the accessed bit the CPU sets."""
    a = model.ACC_A << 8
    return (seg.flags | a) == (d.cache_flags | a)


@pytest.mark.points(3)
def test_segment_registers_reloaded(boots):
    """CS is the 64-bit kernel code, SS/DS/ES the kernel data selector, FS/GS null."""
    s = snapshot(boots)
    seg = s.regs.seg
    cs = seg["CS"]
    assert cs.selector == model.KERNEL_CS, (
        f"CS = 0x{cs.selector:04x}, expected 0x{model.KERNEL_CS:02x}: reload it with a far return")
    assert same_cache(cs, s.desc(model.KERNEL_CS)) and cs.l and cs.dpl == 0, (
        f"CS's cached descriptor (flags 0x{cs.flags:08x}) is not gdt[1]'s: CS was not reloaded "
        f"after lgdt")
    for name in ("SS", "DS", "ES"):
        r = seg[name]
        assert r.selector == model.KERNEL_DS, (
            f"{name} = 0x{r.selector:04x}, expected 0x{model.KERNEL_DS:02x}"
            + (" (0x18 is the boot loader's data selector: reload every data segment register "
               "after lgdt)" if r.selector == 0x18 else ""))
        assert same_cache(r, s.desc(model.KERNEL_DS)), (
            f"{name}'s cached descriptor (flags 0x{r.flags:08x}) differs from gdt[2] "
            f"{s.desc(model.KERNEL_DS)}")
    for name in ("FS", "GS"):
        assert seg[name].selector == 0, f"{name} = 0x{seg[name].selector:04x}, expected null (0)"


@pytest.mark.points(3)
def test_tr_holds_the_tss(boots):
    """The TSS descriptor is a busy 64-bit TSS at `tss`, and TR caches it."""
    s = snapshot(boots)
    lo, hi = s.gdt[model.TSS_SEL >> 3], s.gdt[(model.TSS_SEL >> 3) + 1]
    d = model.decode(lo)
    base = model.system_base(lo, hi)
    what = f"TSS descriptor at 0x{model.TSS_SEL:02x} (0x{lo:016x} 0x{hi:016x})"
    assert d.p and not d.s and d.dpl == 0, f"{what}: must be present, S = 0, DPL 0"
    assert d.type == model.TSS_BUSY, (
        f"{what}: type 0x{d.type:x}; a 64-bit TSS is type 0x{model.TSS_AVAIL:x}, which ltr turns "
        f"into 0x{model.TSS_BUSY:x} (busy): was ltr run?")
    assert base == sym("tss"), (
        f"{what}: base 0x{base:x}, expected &tss = 0x{sym('tss'):x}"
        + ("; the upper 8 bytes are 0 and the low half is right: it looks like the descriptor's "
           "upper 8 bytes (base 63:32) were never written" if hi == 0 and base == sym("tss") & 0xFFFFFFFF
           else ""))
    assert d.byte_limit == model.TSS_BYTES - 1 and not d.g, (
        f"{what}: limit 0x{d.limit:x}{' in 4 KiB units' if d.g else ''}, expected exactly "
        f"0x{model.TSS_BYTES - 1:x} in bytes (sizeof tss - 1, flags 0)")
    tr = s.regs.seg["TR"]
    assert tr.selector == model.TSS_SEL, f"TR = 0x{tr.selector:04x}, expected 0x{model.TSS_SEL:02x}"
    assert tr.base == base and tr.limit == d.byte_limit, (
        f"TR caches base 0x{tr.base:x} limit 0x{tr.limit:x}; the descriptor says 0x{base:x}, "
        f"0x{d.byte_limit:x}")


@pytest.mark.points(2)
def test_tss_stacks(boots):
    """The TSS read from memory has RSP0 = rsp0_stack_top, IST1 = ist1_stack_top, iomap_base = 104, the rest 0."""
    s = snapshot(boots)
    f = model.tss_fields(s.tss)
    assert f["rsp"][0] == sym("rsp0_stack_top"), (
        f"TSS RSP0 = 0x{f['rsp'][0]:x}, expected rsp0_stack_top 0x{sym('rsp0_stack_top'):x}")
    reserved = int.from_bytes(s.tss[0x1C:0x24], "little")
    assert f["ist"][1] == sym("ist1_stack_top"), (
        f"TSS IST1 (offset 0x24) = 0x{f['ist'][1]:x}, expected ist1_stack_top "
        f"0x{sym('ist1_stack_top'):x}"
        + ("; the reserved quadword before it (offset 0x1c) holds ist1_stack_top: it looks like "
           "the stack went to ist[0], but IST slots count from 1 (ist[1] is IST1)"
           if reserved == sym("ist1_stack_top") else ""))
    assert f["iomap_base"] == model.TSS_BYTES, (
        f"TSS iomap_base = 0x{f['iomap_base']:x}, expected sizeof tss = 0x{model.TSS_BYTES:x} "
        f"(no I/O bitmap)")
    rest = [f["rsp"][1], f["rsp"][2], *f["ist"][2:]]
    assert s.tss[:4] == bytes(4) and not any(rest), (
        f"the TSS's other fields must be zero (tss zeroed first); RSP1, RSP2, IST2..7 = "
        f"{', '.join(hex(v) for v in rest)}")


@pytest.mark.points(4)
def test_load_test_descriptor_caches_its_fields(boots):
    """Random data descriptors at 0x48 load into FS/GS/DS/ES with the base, limit and flags QEMU caches."""
    snapshot(boots)  # before the scenario GDT replaces the student's
    m, r = boots.ready("main"), boots.rng
    for reg in r.sample(model.DATA_SREGS, 2):
        dpl = r.randrange(4)
        acc = model.access(p=1, dpl=dpl, s=1, code=0, dc=r.getrandbits(1), rw=r.getrandbits(1))
        base, limit, flags = r.getrandbits(32), r.getrandbits(20), r.getrandbits(4) & ~model.FLAG_L
        sel = TEST_SEL | r.randrange(dpl + 1)
        m.command(f"testdesc 0x{base:x} 0x{limit:x} 0x{acc:x} 0x{flags:x}")
        out = m.command(f"load {reg} 0x{sel:x}")
        want = model.decode(model.encode(base, limit, acc, flags))
        gbase, glimit = m.regs().gdt
        table = model.table(read_linear(m, gbase, glimit + 1))
        assert model.load_outcome(reg, sel, 0, table, glimit) is None, (
            f"`load {reg} 0x{sel:x}` must succeed, but the GDT (GDTR 0x{gbase:x} limit "
            f"0x{glimit:x}) holds {model.decode(table[TEST_SEL >> 3]) if len(table) > 9 else 'no slot 9'}"
            f" for seg_encode(0x{base:x}, 0x{limit:x}, 0x{acc:x}, 0x{flags:x}), expected {want}")
        seg = m.regs().seg[reg.upper()]
        assert seg.selector == sel, f"`load {reg} 0x{sel:x}`: QEMU shows {reg} = 0x{seg.selector:x}\n{out}"
        assert (seg.base, seg.limit) == (want.base, want.byte_limit) and same_cache(seg, want), (
            f"{reg} caches base 0x{seg.base:x} limit 0x{seg.limit:x} flags 0x{seg.flags:08x}; "
            f"descriptor {want} gives base 0x{want.base:x} limit 0x{want.byte_limit:x} flags "
            f"0x{want.cache_flags:08x} {boots.why()}")
