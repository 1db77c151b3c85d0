"""Page walks and address-space ranges, formatted for a TA, on the grader's
own model (grader/harness/paging.py) over physical memory.

read_u64(pa) -> int reads guest physical memory (kitgdb.target does it with
QEMU's `xp`, a whole table at a time).
"""
from .models import paging

MAXPHYADDR = 40  # QEMU's qemu64 CPU under TCG (phys-bits=40): higher address bits are reserved
ADDR_RESERVED = ((1 << 52) - 1) & ~((1 << MAXPHYADDR) - 1)
HUGE_RESERVED = {3: ((1 << 30) - 1) & ~((1 << 13) - 1), 2: ((1 << 21) - 1) & ~((1 << 13) - 1)}
NEXT_NAMES = {4: "PDPT", 3: "PD", 2: "PT"}
SIZE_NAMES = {1 << 12: "4K", 1 << 21: "2M", 1 << 30: "1G"}


def size_text(n):
    for unit, name in ((1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")):
        if n % unit == 0:
            return f"{n // unit}{name}"
    return f"{n}B"


def reserved_bits(entry, level, nxe):
    """Bits of a present entry that must be 0: setting one faults with RSVD=1."""
    mask = ADDR_RESERVED | (0 if nxe else paging.NX)
    if level == 4:
        mask |= paging.PS
    elif level in HUGE_RESERVED and entry & paging.PS:
        mask |= HUGE_RESERVED[level]
    return entry & mask


def rights(writable, user, nx):
    """The kit's urwx letters: u (user) r w x."""
    return ("u" if user else "-") + "r" + ("w" if writable else "-") + ("-" if nx else "x")


def rights_words(writable, user, nx):
    return (f"{'user' if user else 'kernel-only'}, {'read/write' if writable else 'read-only'}, "
            f"{'no-execute' if nx else 'executable'}")


def entry_flags(entry):
    return " ".join(paging.flag_names(entry)) or "-"


def split_text(va):
    parts = " ".join(f"{paging.LEVEL_NAMES[l]}[{paging.index(va, l)}]" for l in (4, 3, 2, 1))
    return f"{parts} offset 0x{va & 0xFFF:03x}"


def walk(read_u64, cr3, va, nxe=True):
    """(lines, Walk, stop) for `kit walk`; stop is None when mapped, else a reason word:
    'non-canonical', 'not-present' or 'reserved'."""
    va &= (1 << 64) - 1
    w = paging.walk(read_u64, cr3, va)
    lines = [f"VA 0x{va:016x}  CR3 0x{cr3:x}"]
    if not w.canonical:
        lines.append("not canonical: bits 63..47 must all equal bit 47; any access raises #GP "
                     "(or #SS for the stack), not #PF")
        return lines, w, "non-canonical"
    lines.append("  " + split_text(va))
    for level, table, i, entry in w.steps:
        name = paging.LEVEL_NAMES[level]
        head = f"  {name:<4} 0x{table:x}[{i:3}] = 0x{entry:016x}  {entry_flags(entry):<22}"
        if not entry & paging.P:
            lines.append(head + " not present")
            lines.append(f"not mapped: the walk stops at the {name} entry; any access faults "
                         f"(#PF with P=0)")
            return lines, w, "not-present"
        bad = reserved_bits(entry, level, nxe)
        if bad:
            lines.append(head + f" reserved bits 0x{bad:x}")
            lines.append(f"reserved bits set in the {name} entry: any access faults (#PF with "
                         f"P=1 RSVD=1); QEMU and the model ignore them")
            return lines, w, "reserved"
        if level == w.level and w.mapped:
            lines.append(head + f" -> {SIZE_NAMES[w.page_size]} page at 0x{w.pa & ~(w.page_size - 1):x}")
        else:
            lines.append(head + f" -> {NEXT_NAMES[level]} at 0x{entry & paging.ADDR_MASK:x}")
    lines.append(f"mapped: PA 0x{w.pa:x}  ({SIZE_NAMES[w.page_size]} page)  "
                 f"{rights(w.writable, w.user, w.nx)} = {rights_words(w.writable, w.user, w.nx)}")
    return lines, w, None


def ranges(read_u64, cr3, lo=0, hi=1 << 64):
    """Merged mappings [(start, end, pa, page_size, writable, user, nx)]: neighbours merge
    when rights and page size are equal and both addresses continue."""
    out = []
    for l in paging.leaves(read_u64, cr3):
        if l.va + l.size <= lo or l.va >= hi:
            continue
        if out:
            s, e, pa, size, w, u, nx = out[-1]
            if e == l.va and pa + (e - s) == l.pa and (size, w, u, nx) == (l.size, l.writable, l.user, l.nx):
                out[-1] = (s, l.va + l.size, pa, size, w, u, nx)
                continue
        out.append((l.va, l.va + l.size, l.pa, l.size, l.writable, l.user, l.nx))
    return out


def ranges_lines(rs):
    lines = [f"  {'start':<18}  {'end':<18}  {'size':>6}  page  urwx  phys"]
    for s, e, pa, size, w, u, nx in rs:
        lines.append(f"  0x{s:016x}  0x{e:016x}  {size_text(e - s):>6}  {SIZE_NAMES[size]:<4}  "
                     f"{rights(w, u, nx)}  0x{pa:x}")
    total = sum(e - s for s, e, *_ in rs)
    lines.append(f"{len(rs)} ranges, {size_text(total)} mapped")
    return lines
