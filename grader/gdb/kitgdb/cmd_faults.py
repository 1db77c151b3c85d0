"""`kit frame` and `kit pferr`: exception frames at a handler or entry-stub
breakpoint (struct trapframe of <kit/trap.h>, or the CPU's own frame), and
page-fault error codes explained against CR2's walk."""
import gdb

from . import cr, descriptors as D, faults as F, pagetable as PT
from .base import MASK64, STATE, KitCommand, KitError, T, number, with_symbol
from .bits import hex64
from .cmd_tables import Idt, gdt_entries, idt_context

MAX_FRAMES = 32  # how far up the stack to look for a trapframe
RFLAGS_ALWAYS_1 = 1 << 1
RFLAGS_ALWAYS_0 = (1 << 3) | (1 << 5) | (1 << 15) | (MASK64 & ~((1 << 22) - 1))


def trapframe_layout():
    """[(field, offset)] of struct trapframe: from the ELF's debug info, else trap.h's order."""
    try:
        t = gdb.lookup_type("struct trapframe")
        return [(f.name, f.bitpos // 8) for f in t.fields()]
    except gdb.error:
        return [(n, 8 * i) for i, n in enumerate(F.TRAPFRAME_FIELDS)]


def is_trapframe_ptr(t):
    t = t.strip_typedefs()
    return t.code == gdb.TYPE_CODE_PTR and t.target().strip_typedefs().tag == "trapframe"


def frame_args(f):
    """The arguments visible in frame f's function block."""
    try:
        block = f.block()
    except RuntimeError:
        return
    while block is not None and block.function is None:
        block = block.superblock
    if block is None:
        return
    for sym in block:
        if sym.is_argument:
            yield sym


def find_trapframe():
    """(address, how) of the struct trapframe the selected frame or a caller handles."""
    f, level = gdb.selected_frame(), 0
    while f is not None and level < MAX_FRAMES:
        for sym in frame_args(f):
            if is_trapframe_ptr(sym.type):
                try:
                    v = f.read_var(sym)
                    if not v.is_optimized_out:
                        return int(v) & MASK64, f"argument {sym.name} of {f.name()}, frame #{level}"
                except (gdb.error, ValueError):
                    pass
        older = f.older()
        if older is not None and older.name() == "trap_common":
            rsp = int(older.read_register("rsp")) & MASK64
            return rsp, f"the stack of trap_common, which called {f.name()} (frame #{level})"
        f, level = older, level + 1
    raise KitError("no struct trapframe in this stack: stop in a handler (e.g. break trap, "
                   "break page_fault_handler), or give its address: kit frame ADDR; "
                   "at an entry stub use: kit frame raw [VECTOR]")


def read_trapframe(addr):
    data = T.read_virt(addr, F.TRAPFRAME_BYTES, "trapframe")
    return {name: int.from_bytes(data[off:off + 8], "little") for name, off in trapframe_layout()
            if off + 8 <= len(data)}


def instruction(addr):
    """The instruction at addr as gdb disassembles it, or ''."""
    try:
        text = gdb.execute(f"x/i 0x{addr:x}", to_string=True)
    except gdb.error:
        return ""
    return text.split(":", 1)[1].strip().replace("\t", " ") if ":" in text else ""


def cpu_frame_lines(v):
    cs, ss = v["cs"], v["ss"]
    insn = instruction(v["rip"])
    return [
        f"  rip    {with_symbol(v['rip'])}" + (f"  {insn}" if insn else ""),
        f"  cs     {D.selector_text(cs)}: came from ring {cs & 3}",
        f"  rflags {hex64(v['rflags'])}  {cr.rflags_text(v['rflags'])}",
        f"  rsp    {with_symbol(v['rsp'])}",
        f"  ss     {D.selector_text(ss)}",
    ]


def repeat_note(vector, rip):
    """Remember this fault; a note when the same fault was decoded at the stops
    before at this same place (a breakpoint hit again and again by one fault)."""
    cr2 = T.regs().gpr.get("CR2", 0)
    pc = int(gdb.parse_and_eval("$pc")) & MASK64
    key = F.fault_key(vector, rip, cr2)
    seen = STATE["faults"]
    if not seen or seen[-1][0] != STATE["stop"] or seen[-1][1] != pc:
        seen.append((STATE["stop"], pc, key))
    del seen[:-64]
    here = [k for _, p, k in seen if p == pc]
    n = 0
    for k in reversed(here):
        if k != key:
            break
        n += 1
    if n < 2:
        return []
    return [f"! the same fault ({D.mnemonic(vector)} at rip 0x{rip:x}"
            + (f", CR2 0x{cr2:x}" if vector == 14 else "")
            + f") stopped here {n} times in a row: a handler that returns without fixing "
            "the cause makes the CPU retry the instruction forever"]


def selector_slot(err):
    """The GDT slot or IDT gate a selector error code names, as one line."""
    try:
        if err & F.SELERR_IDT:
            base, limit = T.regs().idt
            v = err >> 3
            if (v + 1) * D.GATE_BYTES - 1 > limit:
                return f"  gate   vector {v} is past the IDT limit 0x{limit:x}"
            g = D.parse_idt(T.read_virt(base + v * D.GATE_BYTES, D.GATE_BYTES))[0]
            g.vector = v
            return "  gate " + Idt.gate_lines(g, *idt_context())[0].strip()
        if err & F.SELERR_TI:
            return ""
        _, limit, entries = gdt_entries()
        if (err | 7) > limit:
            return f"  slot   past the GDT limit 0x{limit:x}"
        d = D.lookup(entries, err & ~7)
        return f"  slot   GDT[{err >> 3}] " + (d.text() if d else "(upper half of a system descriptor)")
    except KitError:
        return ""


def fault_context(vector, err):
    lines = [f"  error  {F.error_text(vector, err)}"]
    if vector in F.SELECTOR_ERROR_VECTORS and err:
        lines += [l for l in [selector_slot(err)] if l]
    if vector == 14:
        cr2 = T.regs().gpr.get("CR2", 0)
        lines.append(f"  cr2    {with_symbol(cr2)}  (the faulting address)")
    return lines


class Frame(KitCommand):
    """Decode the exception frame at a handler breakpoint.
Usage: kit frame            the struct trapframe (kit/trap.h) of the handler being run:
                            a `struct trapframe *` argument of this frame or a caller,
                            else what trap_common passed
       kit frame ADDR       the struct trapframe at ADDR
       kit frame raw [VEC]  the frame the CPU pushed, at RSP: stop on the first
                            instruction of an entry stub (break trap_vector14);
                            VEC says whether an error code is on top (default:
                            from the stub's name, else guessed)
Shows vector, error code decoded (page-fault bits, or the selector of a #GP,
#TS, #NP, #SS), RIP with its symbol, CS and the ring it came from, RFLAGS, RSP,
SS, CR2 for a #PF, and the saved registers. Warns when the same fault was
seen at the stops before (a fault loop)."""
    name = "frame"

    def run(self, argv):
        if argv and argv[0] == "raw":
            return self.raw(argv[1:])
        if argv:
            addr, how = number(" ".join(argv)), "given address"
        else:
            addr, how = find_trapframe()
        v = read_trapframe(addr)
        vec = v["vector"]
        lines = [f"struct trapframe at 0x{addr:x} ({how})",
                 f"  vector {vec} {D.mnemonic(vec)}" + ("" if vec < 32 else " (not an exception)")]
        lines += fault_context(vec, v["error"]) + cpu_frame_lines(v)
        regs = [n for n in F.TRAPFRAME_FIELDS[::-1] if n not in ("vector", "error") + tuple(F.CPU_FRAME_FIELDS)]
        for i in range(0, len(regs), 3):
            lines.append("  " + "  ".join(f"{n:<3} 0x{v[n]:016x}" for n in regs[i:i + 3]))
        if vec > 255 or v["cs"] > 0xFFFF or v["ss"] > 0xFFFF:
            lines.append("! these values do not look like a trapframe: wrong address?")
        return lines + repeat_note(vec, v["rip"])

    def raw(self, argv):
        rsp = int(gdb.parse_and_eval("$rsp")) & MASK64
        sym = T.symbol(int(gdb.parse_and_eval("$pc")) & MASK64)
        data = T.read_virt(rsp, 8 * 7, "stack")
        q = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
        if argv:
            vec, how = number(argv[0]), "given vector"
            layout = "error" if vec in D.ERROR_CODE_VECTORS else "cpu"
        elif sym.startswith("trap_vector") and sym[11:].isdigit():
            vec, how = int(sym[11:]), f"entry stub {sym}"
            layout = "error" if vec in D.ERROR_CODE_VECTORS else "cpu"
        elif sym == "trap_common":
            vec, how, layout = q[0], "trap_common: the stub pushed vector and error", "stub"
        else:
            layout, how = self.guess(q), "guessed from the words at rsp"
            vec = q[0] if layout == "stub" else None
        skip = {"cpu": 0, "error": 0, "stub": 1}[layout]
        names = (["error"] if layout != "cpu" else []) + F.CPU_FRAME_FIELDS
        v = dict(zip(names, q[skip:]))
        lines = [f"CPU frame at rsp 0x{rsp:x} ({how}; "
                 f"{'no error code' if layout == 'cpu' else 'error code on top'})"]
        if vec is not None:
            lines.append(f"  vector {vec} {D.mnemonic(vec)}")
        if layout != "cpu" and vec is None:
            lines.append(f"  error  0x{v['error']:x} (vector unknown; read as a #PF code: "
                         f"{F.pferr_words(v['error'])})")
        elif layout != "cpu":
            lines += fault_context(vec, v["error"])
        lines += cpu_frame_lines(v)
        if vec is not None:
            lines += repeat_note(vec, v["rip"])
        return lines

    @staticmethod
    def guess(q):
        """Which layout the words at rsp have: [vector, error, rip, cs, rflags, rsp, ss]
        (the core's stubs), [error, rip, cs, ...] or [rip, cs, ...]."""
        def plausible(rip, cs, rflags, ss):
            ring = cs & 3
            return (8 <= cs < 0x10000 and not cs & D.SEL_TI and ring in (0, 3)
                    and ss < 0x10000 and (ss & 3 == ring or ss == 0)
                    and rflags & RFLAGS_ALWAYS_1 and not rflags & RFLAGS_ALWAYS_0
                    and PT.paging.canonical(rip))
        if q[0] < 256 and plausible(*q[2:5], q[6]):
            return "stub"
        if plausible(*q[1:4], q[5]):
            return "error"
        if plausible(*q[0:3], q[4]):
            return "cpu"
        raise KitError("the words at rsp do not look like an exception frame: stop on the "
                       "first instruction of the entry stub, or name the vector: kit frame raw VEC")


class Pferr(KitCommand):
    """Decode a page-fault error code and explain it against CR2's page walk.
Usage: kit pferr [CODE]
Without CODE, at a #PF handler: the error code of its trapframe and CR2.
With CODE (a gdb expression, e.g. tf->error or 0x7): the bits alone, plus the
walk of CR2. The verdict compares the bits with what the tables say now: a
page mapped now that faulted as not-present was mapped after the fault (or
its stale TLB entry was never flushed)."""
    name = "pferr"

    def run(self, argv):
        if argv:
            err = number(" ".join(argv))
        else:
            addr, _ = find_trapframe()
            v = read_trapframe(addr)
            if v["vector"] != 14:
                raise KitError(f"the trapframe here is vector {v['vector']} ({D.mnemonic(v['vector'])}), "
                               "not a page fault; pass a code: kit pferr 0x2")
            err = v["error"]
        lines = F.pferr_lines(err)
        cr2 = T.regs().gpr.get("CR2", 0)
        lines.append(f"CR2 {with_symbol(cr2)}")
        if not T.paging_on():
            return lines
        if not cr2:
            return lines + ["CR2 is 0: no page fault yet (or a NULL access), nothing to walk"]
        w = T.walk(cr2)
        lines.append("walk now: " + (f"mapped {PT.rights(w.writable, w.user, w.nx)} "
                                     f"({PT.SIZE_NAMES[w.page_size]} page at PA 0x{w.pa:x})" if w.mapped else
                                     f"not mapped (stops at the {PT.paging.LEVEL_NAMES.get(w.level, '?')} entry)"))
        return lines + ["verdict: " + self.verdict(err, w)]

    @staticmethod
    def verdict(err, w):
        if not err & F.PFERR_P:
            if w.mapped:
                return ("CR2 is mapped now but faulted as not present: it was mapped after the fault "
                        "(a handler did it), or the TLB held an old entry (missing invlpg)")
            return "CR2 is not mapped: map it, or find the bad pointer"
        if err & F.PFERR_RSVD:
            return "a reserved bit is set in one of CR2's entries: kit walk $cr2 shows which"
        if not w.mapped:
            return ("CR2 is not mapped now but was present at the fault: the tables changed "
                    "since (or the TLB is stale)")
        reasons = []
        if err & F.PFERR_W and not w.writable:
            reasons.append("a write to a read-only page")
        if err & F.PFERR_U and not w.user:
            reasons.append("ring 3 touched a kernel-only page (U=0 at some level)")
        if err & F.PFERR_I and w.nx:
            reasons.append("an instruction fetch from a no-execute page")
        if reasons:
            return "; ".join(reasons)
        return ("the page allows this access now: the tables changed after the fault, or "
                "a stale TLB entry caused it (missing invlpg after changing the entry)")
