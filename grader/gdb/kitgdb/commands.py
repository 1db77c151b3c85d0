"""The `kit` prefix and the paging commands (cr, walk, ptdump); register()
installs every `kit ...` command and the stop events that empty the cache."""
import gdb

from . import cr, pagetable as PT
from .base import MASK64, KitCommand, KitError, T, install_events, number


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


def register():
    from . import cmd_faults, cmd_tables
    Kit()
    for c in (Cr, Walk, Ptdump, cmd_tables.Gdt, cmd_tables.Tss, cmd_tables.Idt,
              cmd_faults.Pferr, cmd_faults.Frame):
        c()
    install_events()
