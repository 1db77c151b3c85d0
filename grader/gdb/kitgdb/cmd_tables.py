"""`kit gdt`, `kit tss` and `kit idt`: the descriptor tables, read at the
addresses GDTR, TR and IDTR hold (QEMU's `info registers`) through the page
tables, and checked the way the CPU would check them."""
from . import descriptors as D, pagetable as PT
from .base import MASK64, KitCommand, KitError, T, number, with_symbol


NULL_RUN_FOLD = 4  # this many null GDT slots in a row print as one line


def long_mode():
    return bool(T.regs().gpr.get("EFER", 0) & (1 << 10))


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
        if not long_mode():
            lines.append("note: the CPU is not in long mode yet; 16-byte system descriptors "
                         "and L apply only once it is")
        nulls = []  # a run of null slots folds into one line
        for index, d in entries + [(None, None)]:
            if want is not None and index is not None and index != want >> 3:
                continue
            if d is not None and d.raw == 0 and index and want is None:
                nulls.append(index)
                continue
            if nulls:
                if len(nulls) < NULL_RUN_FOLD:
                    lines += [f"  {i:3}  0x{i << 3:02x}  0x{0:016x}  null" for i in nulls]
                else:
                    lines.append(f"  {f'{nulls[0]}-{nulls[-1]}':>7}  null")
                nulls = []
            if d is None:
                break
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


def tss_users(r):
    """What in the machine now would need a TSS: IST gates, ring 3 (now, or a DPL 3 code
    segment in the GDT to get there). Tables that cannot be read count as nothing."""
    users = []
    if r.seg.get("CS") and r.seg["CS"].selector & D.SEL_RPL_MASK == 3:
        users.append("the CPU runs in ring 3 now")
    try:
        ring3 = [i for i, d in gdt_entries()[2] if d.present and d.code and d.dpl == 3]
        if ring3:
            users.append(f"the GDT has a ring-3 code segment (slot {ring3[0]})")
    except KitError:
        pass
    base, limit = r.idt
    if long_mode() and limit >= D.GATE_BYTES - 1:
        try:
            gates = D.parse_idt(T.read_virt(base, (limit + 1) // D.GATE_BYTES * D.GATE_BYTES))
            ist = [g.vector for g in gates if g.present and g.ist]
            if ist:
                users.append(f"IDT gate {ist[0]} uses IST{gates[ist[0]].ist}")
        except KitError:
            pass
    return users


def tss_absent(r):
    """TR 0: a fault only when something needs the TSS (ring 3, an IST gate)."""
    users = tss_users(r)
    if users:
        return [f"! TR is 0: ltr never ran, yet {'; '.join(users)}: an exception from ring 3 (RSP0) "
                "or through an IST gate has no stack to switch to (#TS, then #DF)"]
    return ["TR is 0: ltr never ran. Nothing needs a TSS yet: no ring-3 code segment in the GDT "
            "and no IST gate in the IDT (a ring-0-only kernel such as Lab 3's)"]


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
            return lines + tss_absent(r)
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
        if not long_mode():
            mode = "protected mode (8-byte gates)" if T.regs().gpr.get("CR0", 0) & 1 else \
                "real mode (IDTR names the 4-byte vector table)"
            return lines + [f"the CPU is in {mode}: 64-bit gates do not apply yet"]
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
