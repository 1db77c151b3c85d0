"""The `kit ...` gdb commands. Each reads QEMU's view through Target (cached
until the next stop) and formats it with the pure decoders of this package."""
import gdb

from . import cr, descriptors as D, faults as F, pagetable as PT
from .bits import hex64
from .target import KitError, Target

T = Target()
MASK64 = (1 << 64) - 1
STATE = {"stop": 0, "faults": []}  # stop counter; [(stop, fault key)] seen by kit frame/pferr
MAX_FRAMES = 32                    # how far up the stack to look for a trapframe
RFLAGS_ALWAYS_1 = 1 << 1
RFLAGS_ALWAYS_0 = (1 << 3) | (1 << 5) | (1 << 15) | (MASK64 & ~((1 << 22) - 1))


def on_stop(_event=None):
    T.invalidate()
    STATE["stop"] += 1


def install_events():
    gdb.events.stop.connect(on_stop)
    gdb.events.cont.connect(T.invalidate)
    gdb.events.memory_changed.connect(T.invalidate)
    gdb.events.register_changed.connect(T.invalidate)


def number(expr):
    """A gdb expression as a 64-bit number: `$cr2`, `0x1000`, `&gdt`, `gdt`, `lab_main`."""
    try:
        v = gdb.parse_and_eval(expr)
        if v.type.strip_typedefs().code in (gdb.TYPE_CODE_ARRAY, gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_FUNC):
            v = v.address
        return int(v.cast(gdb.lookup_type("long"))) & MASK64
    except gdb.error as e:
        raise KitError(f"cannot evaluate '{expr}': {e}") from None


def with_symbol(addr):
    sym = T.symbol(addr)
    return f"0x{addr:016x}" + (f" <{sym}>" if sym else "")


class KitCommand(gdb.Command):
    """Base: a subcommand of `kit` whose run(argv) returns lines."""
    name = ""

    def __init__(self):
        super().__init__("kit " + self.name, gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        try:
            lines = self.run(gdb.string_to_argv(arg))
        except KitError as e:
            raise gdb.GdbError(f"kit {self.name}: {e}") from None
        gdb.write("\n".join(lines) + "\n")

    def run(self, argv):
        raise NotImplementedError


class Kit(gdb.Command):
    """The kit's commands for the machine's protection state (x86-64, QEMU).

They read QEMU's own view through `monitor` (registers from `info registers`,
page tables from physical memory with `xp`), never the kernel's word, and
cache it until the CPU runs again. Addresses are gdb expressions: $cr2, &gdt,
lab_main, 0xdeadbeaf, tf->rip.

  kit cr                 CR0 CR2 CR3 CR4 EFER with named bits, and the mode
  kit walk VA [CR3]      the four-level walk of VA: each entry, where it stops
  kit ptdump [LO [HI]]   the address space as merged ranges, rights, page sizes
  kit gdt [SEL]          the GDT at GDTR, decoded; which registers use each slot
  kit tss                the TSS at TR: RSP0-2, IST1-7, checked
  kit idt [VECTOR]       the IDT gates at IDTR, checked against the GDT and TSS
  kit pferr [CODE]       a page-fault error code, explained against CR2's walk
  kit frame [ADDR|raw [VEC]]  the exception frame at a handler breakpoint"""

    def __init__(self):
        super().__init__("kit", gdb.COMMAND_USER, prefix=True)

    def invoke(self, arg, from_tty):
        gdb.execute("help kit")


class Cr(KitCommand):
    """Show CR0, CR2, CR3, CR4 and EFER with their bits named, and the CPU mode.
Usage: kit cr
Values come from QEMU's `info registers`."""
    name = "cr"

    def run(self, argv):
        r = T.regs()
        sym = T.symbol(r.gpr.get("CR2", 0)) if r.gpr.get("CR2") else ""
        return cr.report(r, f" <{sym}>" if sym else "")


class Walk(KitCommand):
    """Walk a virtual address through PML4, PDPT, PD and PT, printing each entry.
Usage: kit walk VA [CR3]
VA and CR3 are gdb expressions (default CR3: the current one). Tables are read
from physical memory with QEMU's `xp`, so the walk works whatever is mapped.
Prints the table index of each level, each entry with its flags, and either
the physical address with the page size and effective rights (urwx), or where
and why the walk stops (not present, reserved bits, non-canonical)."""
    name = "walk"

    def run(self, argv):
        if not argv or len(argv) > 2:
            raise KitError("usage: kit walk VA [CR3]")
        va = number(argv[0])
        if not T.paging_on():
            return [f"paging is off (CR0.PG=0): PA = VA = 0x{va:x}"]
        cr3 = number(argv[1]) if len(argv) > 1 else T.cr3()
        lines, _, _ = PT.walk(T.read_u64, cr3, va, T.nxe())
        sym = T.symbol(va)
        if sym:
            lines[0] += f"  <{sym}>"
        return lines


class Ptdump(KitCommand):
    """Dump the address space as merged ranges with rights and page sizes.
Usage: kit ptdump [LO [HI]] [cr3=VALUE]
One line per run of pages with the same rights (u=user r w x) and page size
whose physical addresses also continue. LO/HI limit the virtual range."""
    name = "ptdump"

    def run(self, argv):
        cr3 = T.cr3()
        rest = []
        for a in argv:
            if a.startswith("cr3="):
                cr3 = number(a[4:])
            else:
                rest.append(a)
        if not T.paging_on():
            return ["paging is off (CR0.PG=0): no address space to dump"]
        lo = number(rest[0]) if rest else 0
        hi = number(rest[1]) if len(rest) > 1 else MASK64 + 1
        rs = PT.ranges(T.read_u64, cr3, lo, hi)
        return [f"address space of CR3 0x{cr3:x}"] + PT.ranges_lines(rs)


def gdt_entries():
    """(base, limit, [(index, Descriptor)]) of the GDT that GDTR names."""
    base, limit = T.regs().gdt
    return base, limit, D.parse_gdt(T.read_virt(base, limit + 1, "GDT base"))


def loaded_by(index, regs):
    """'CS=0x08 SS=0x10' for the segment registers whose selector names slot index."""
    names = []
    for reg in ("CS", "SS", "DS", "ES", "FS", "GS", "TR", "LDT"):
        seg = regs.seg.get(reg)
        if seg and seg.selector >> 3 == index and not seg.selector & D.SEL_TI and seg.selector >> 3:
            names.append(f"{reg}={seg.selector:#04x}")
    return names


def cache_notes(index, d, regs):
    """Registers whose hidden part differs from the descriptor (changed after the load)."""
    notes = []
    for reg in ("CS", "SS", "DS", "ES", "FS", "GS", "TR"):
        seg = regs.seg.get(reg)
        if not seg or seg.selector >> 3 != index or not seg.selector >> 3 or seg.selector & D.SEL_TI:
            continue
        ignore = 0x300 if reg == "TR" else 0x100  # accessed bit; TSS busy bit
        if (seg.flags ^ d.cache_flags) & D.QEMU_CACHE_MASK & ~ignore or (seg.base & 0xFFFFFFFF) != d.base32:
            notes.append(f"{reg}'s cached descriptor (base 0x{seg.base:x} flags 0x{seg.flags:08x}) differs: "
                         "the slot changed after the load")
    return notes


class Gdt(KitCommand):
    """Decode the GDT that GDTR points at (from QEMU's `info registers`).
Usage: kit gdt [SELECTOR]
Each slot: index, selector, raw value, kind (code64/code32/data/TSS64/callgate64),
DPL, present, rights (R/W, C/E, A), base and limit, and which segment registers
hold it now. 16-byte system descriptors take two slots. Problems the CPU
would fault on are marked with '!'. With SELECTOR, decode that one selector."""
    name = "gdt"

    def run(self, argv):
        r = T.regs()
        base, limit, entries = gdt_entries()
        lines = [f"GDTR base 0x{base:x} limit 0x{limit:x} ({(limit + 1) // 8} slots)"]
        if (limit + 1) % 8:
            lines.append(f"! the limit should be 8*n-1: slot {(limit + 1) // 8} is cut short")
        want = number(argv[0]) if argv else None
        if want is not None:
            lines.append("selector " + D.selector_text(want))
            if want & D.SEL_TI:
                return lines + ["that selector is in the LDT, which the kit does not use"]
            if (want | 7) > limit:
                return lines + [f"! past the GDT limit: loading it raises #GP(0x{want & ~3:x})"]
        for index, d in entries:
            if want is not None and index != want >> 3:
                continue
            users = loaded_by(index, r)
            lines.append(f"  {index:3}  0x{index << 3:02x}  0x{d.raw:016x}  {d.text()}"
                         + (f"   <- {' '.join(users)}" if users else ""))
            if d.hi is not None:
                lines.append(f"  {index + 1:3}  0x{(index + 1) << 3:02x}  0x{d.hi:016x}  (upper half)")
            for p in d.problems() + cache_notes(index, d, r):
                lines.append(f"        ! {p}")
        return lines


def stack_name(top):
    """A stack pointer with the name of the stack it tops, if one is at that address."""
    names = [n for n in T.names_at(top) if "stack" in n]
    return f"0x{top:016x} <{names[0]}>" if names else with_symbol(top)


def stack_check(top):
    """Whether a push just below top would land on a mapped writable page."""
    if not top:
        return "! zero: a switch to this stack pushes at 0xffff...ffd8 and faults"
    w = T.walk((top - 8) & MASK64)
    if not w.mapped:
        return "! the page below it is not mapped: the first push faults (#PF, then #DF)"
    if not w.writable:
        return "! the page below it is read-only: the first push faults"
    return f"stack page mapped {PT.rights(w.writable, w.user, w.nx)}"


class Tss(KitCommand):
    """Decode the 64-bit TSS that TR names: RSP0-2, IST1-7, the I/O map base.
Usage: kit tss
TR's selector, base and limit come from QEMU's `info registers`; the TSS is
read through the page tables. Each stack pointer is checked: the page just
below it must be mapped and writable, or the stack switch faults."""
    name = "tss"

    def run(self, argv):
        r = T.regs()
        tr = r.seg.get("TR")
        if tr is None:
            raise KitError("QEMU reported no TR")
        lines = [f"TR {tr.selector:#06x}  base 0x{tr.base:x}  limit 0x{tr.limit:x}  (QEMU's cached copy)"]
        if tr.selector == 0:
            return lines + ["! TR is 0: ltr never ran. Exceptions from ring 3 (RSP0) and IST gates "
                            "have no stack to switch to."]
        try:
            _, limit, entries = gdt_entries()
            d = D.lookup(entries, tr.selector)
            if d is not None:
                lines.append(f"GDT[{tr.selector >> 3}] {d.text()}")
            if d is not None and d.base != tr.base:
                lines.append(f"! the GDT slot now says base 0x{d.base:x}: changed after ltr")
        except KitError:
            pass
        if tr.limit < D.TSS_MIN_LIMIT:
            lines.append(f"! limit 0x{tr.limit:x} < 0x67: the CPU reads past the TSS (#TS)")
        tss = D.parse_tss(T.read_virt(tr.base, D.TSS_MIN_LIMIT + 1, "TSS base"))
        names = [(f"RSP{i}", v) for i, v in enumerate(tss.rsp)] + \
                [(f"IST{i}", tss.ist[i]) for i in range(1, 8)]
        for name, v in names:
            if v or name == "RSP0":
                lines.append(f"  {name:<5} {stack_name(v)}  {stack_check(v)}")
        unused = [n for n, v in names if not v and n != "RSP0"]
        if unused:
            lines.append(f"  zero: {' '.join(unused)}")
        lines.append(f"  I/O map base 0x{tss.iomap_base:x}"
                     + (" (at or past the limit: no bitmap, ring 3 may use no port)"
                        if tss.iomap_base > tr.limit else " (a bitmap inside the TSS)"))
        return lines


def target_problems(g):
    w = T.walk(g.target)
    if not w.canonical:
        return [f"handler 0x{g.target:x} is not canonical: delivery raises #GP"]
    storm = " (if that gate is bad too: a #PF storm that walks down the stack, then #DF)"
    if not w.mapped:
        return [f"handler 0x{g.target:x} is not mapped: fetching it raises #PF" + storm]
    if w.nx:
        return [f"handler 0x{g.target:x} is on a no-execute page: fetching it raises #PF" + storm]
    return []


def idt_context():
    """(GDT entries, GDT limit, Tss or None) for checking gates; empty when unreadable."""
    r = T.regs()
    try:
        _, limit, entries = gdt_entries()
    except KitError:
        entries, limit = [], r.gdt[1]
    tss = None
    tr = r.seg.get("TR")
    if tr and tr.selector:
        try:
            tss = D.parse_tss(T.read_virt(tr.base, D.TSS_MIN_LIMIT + 1))
        except KitError:
            pass
    return entries, limit, tss


class Idt(KitCommand):
    """Decode the IDT gates at IDTR, checked against the GDT, the TSS and the page tables.
Usage: kit idt [VECTOR]
Every gate up to the limit; runs of not-present gates are folded into one
line. With VECTOR, that gate in detail. Each gate: handler address and symbol, code
selector, type (intr/trap), DPL, IST. '!' marks what would fail on delivery:
a bad type, a selector that is not a present 64-bit code segment, an IST slot
that is zero, a handler that is not mapped or not executable. A vector past
the limit raises #GP; a not-present gate raises #NP; either inside a fault's
delivery becomes #DF, and a fault delivering #DF is a triple fault."""
    name = "idt"

    def run(self, argv):
        base, limit = T.regs().idt
        count = (limit + 1) // D.GATE_BYTES
        lines = [f"IDTR base 0x{base:x} limit 0x{limit:x} ({count} gates)"]
        if count == 0:
            return lines + ["! empty IDT: the first exception triple-faults"]
        gates = D.parse_idt(T.read_virt(base, count * D.GATE_BYTES, "IDT base"))
        entries, glimit, tss = idt_context()
        if argv:
            one = number(argv[0])
            if one >= count:
                return lines + [f"! vector {one} is past the limit: delivering it raises #GP"]
            return lines + self.detail(gates[one], entries, glimit, tss)
        run_start, bad = None, []  # runs of not-present gates fold into one line
        for g in gates + [None]:
            if g is not None and not g.present:
                run_start = g.vector if run_start is None else run_start
                continue
            if run_start is not None:
                end = (g.vector if g else count) - 1
                rng = f"{run_start}" if end == run_start else f"{run_start}-{end}"
                lines.append(f"  {rng:>7}  not present")
                run_start = None
            if g is not None:
                gl = self.gate_lines(g, entries, glimit, tss)
                bad += [g.vector] if len(gl) > 1 else []
                lines += gl
        lines += self.summary(gates, bad, count)
        if count < 32:
            lines.append(f"! only {count} gates: vectors {count}-31 raise #GP on delivery")
        return lines

    @staticmethod
    def summary(gates, bad, count):
        """What the problems add up to: #DF's gate decides between #DF and a triple fault."""
        out = []
        if bad:
            out.append(f"! {len(bad)} present gate(s) would fail on delivery: {' '.join(map(str, bad[:16]))}"
                       + (" ..." if len(bad) > 16 else ""))
        df = gates[8] if count > 8 else None
        if df is None or not df.present or 8 in bad:
            out.append("! #DF (vector 8) cannot be delivered: a fault while delivering a fault "
                       "is a triple fault (the machine resets)")
        return out

    @staticmethod
    def gate_lines(g, entries, glimit, tss):
        sym = T.symbol(g.target)
        lines = [f"  {g.vector:3} {D.mnemonic(g.vector):<4} 0x{g.target:016x} {sym:<16} "
                 f"{g.selector:#06x} {g.type_name()} DPL{g.dpl} IST{g.ist}"]
        for p in D.gate_problems(g, entries, glimit, tss) + target_problems(g):
            lines.append(f"        ! {p}")
        return lines

    def detail(self, g, entries, glimit, tss):
        lines = [f"vector {g.vector} {D.mnemonic(g.vector)}  raw lo 0x{g.lo:016x} hi 0x{g.hi:016x}"]
        if not g.present:
            return lines + ["! not present: delivering it raises #NP (error code "
                            f"0x{g.vector * 8 + 2:x}: IDT, vector {g.vector})"]
        lines += self.gate_lines(g, entries, glimit, tss)
        if g.ist and tss is not None:
            lines.append(f"  IST{g.ist} stack {stack_name(tss.ist[g.ist])}")
        lines.append(f"  {'interrupt gate: IF cleared on entry' if g.type == D.SYS_INTR_GATE else 'trap gate: IF kept'}; "
                     f"INT {g.vector} allowed from CPL <= {g.dpl}")
        w = T.walk(g.target)
        if w.mapped:
            lines.append(f"  handler page: PA 0x{w.pa:x} {PT.rights(w.writable, w.user, w.nx)}")
        return lines


# ---- exception frames ----------------------------------------------------------

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


COMMANDS = [Cr, Walk, Ptdump, Gdt, Tss, Idt, Pferr, Frame]


def register():
    Kit()
    for c in COMMANDS:
        c()
    install_events()
