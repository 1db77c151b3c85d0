"""The grader's own model of x86-64 four-level paging, over physical memory
read from QEMU (never through the kernel).

    read_u64(pa) -> int     reads 8 bytes of guest physical memory
"""
from dataclasses import dataclass, field

P, W, U, PWT, PCD, A, D, PS, G = (1 << b for b in range(9))
NX = 1 << 63
ADDR_MASK = 0x000FFFFFFFFFF000
LEVEL_NAMES = {4: "PML4", 3: "PDPT", 2: "PD", 1: "PT"}
PAGE_SIZES = {1: 1 << 12, 2: 1 << 21, 3: 1 << 30}
FLAG_NAMES = [(P, "P"), (W, "W"), (U, "U"), (PWT, "PWT"), (PCD, "PCD"), (A, "A"), (D, "D"),
              (PS, "PS"), (G, "G"), (NX, "NX")]


def index(va, level):
    """Index into the table of `level` (4 = PML4 .. 1 = PT)."""
    return (va >> (12 + 9 * (level - 1))) & 0x1FF


def canonical(va):
    top = va >> 47
    return top == 0 or top == 0x1FFFF


def sign_extend(va):
    return va | 0xFFFF000000000000 if va & (1 << 47) else va


def flag_names(entry):
    return [n for bit, n in FLAG_NAMES if entry & bit]


@dataclass
class Walk:
    va: int
    canonical: bool = True
    steps: list = field(default_factory=list)  # (level, table_pa, index, entry)
    mapped: bool = False
    level: int = 4  # leaf level when mapped, else where the walk stopped
    pa: int | None = None
    page_size: int | None = None
    writable: bool = False
    user: bool = False
    nx: bool = False


def walk(read_u64, cr3, va):
    """Translate va as the MMU would; permissions are the AND of W and U over
    all levels and the OR of NX."""
    w = Walk(va, canonical(va))
    if not w.canonical:
        w.level = 0
        return w
    table = cr3 & ADDR_MASK
    writable = user = True
    nx = False
    for level in (4, 3, 2, 1):
        i = index(va, level)
        entry = read_u64(table + 8 * i)
        w.steps.append((level, table, i, entry))
        w.level = level
        if not entry & P:
            return w
        writable &= bool(entry & W)
        user &= bool(entry & U)
        nx |= bool(entry & NX)
        if level == 1 or (level in (2, 3) and entry & PS):
            size = PAGE_SIZES[level]
            base = entry & ADDR_MASK & ~(size - 1)
            w.mapped, w.pa, w.page_size = True, base + (va & (size - 1)), size
            w.writable, w.user, w.nx = writable, user, nx
            return w
        table = entry & ADDR_MASK
    return w


@dataclass
class Leaf:
    va: int
    size: int
    pa: int
    writable: bool
    user: bool
    nx: bool


class WalkLimit(AssertionError):
    """The tables are not a sane tree (too many, or outside RAM)."""


def leaves(read_u64, cr3, phys_limit=1 << 40, max_tables=4096):
    """Every mapped page of the address space, in virtual-address order.
    A student's junk entries cannot make it run away: tables must lie below
    phys_limit and there may be at most max_tables of them."""
    out = []
    seen = [0]

    def visit(table, level, va_base, w, u, nx):
        seen[0] += 1
        if seen[0] > max_tables or table + 4096 > phys_limit:
            raise WalkLimit(f"page tables out of bounds: a {LEVEL_NAMES[level]} at 0x{table:x} "
                            f"(table #{seen[0]}); is a junk entry marked present?")
        for i in range(512):
            entry = read_u64(table + 8 * i)
            if not entry & P:
                continue
            va = va_base + (i << (12 + 9 * (level - 1)))
            if level == 4:
                va = sign_extend(va)
            ew, eu, enx = w and bool(entry & W), u and bool(entry & U), nx or bool(entry & NX)
            if level == 1 or (level in (2, 3) and entry & PS):
                size = PAGE_SIZES[level]
                out.append(Leaf(va, size, entry & ADDR_MASK & ~(size - 1), ew, eu, enx))
            else:
                visit(entry & ADDR_MASK, level - 1, va, ew, eu, enx)

    visit(cr3 & ADDR_MASK, 4, 0, True, True, False)
    return out


def merge(leaf_list, key=lambda l: (l.writable, l.user, l.nx), physical=False):
    """Merge virtually contiguous leaves with equal key into (start, end, key) ranges.
    With physical=True the physical addresses must be contiguous too."""
    ranges = []
    for l in leaf_list:
        k = key(l)
        if ranges:
            start, end, pk, pa_end = ranges[-1]
            if end == l.va and pk == k and (not physical or pa_end == l.pa):
                ranges[-1] = (start, l.va + l.size, k, l.pa + l.size)
                continue
        ranges.append((l.va, l.va + l.size, k, l.pa + l.size))
    return [(s, e, k) for s, e, k, _ in ranges]


def parse_info_mem(text):
    """QEMU `info mem`: [(start, end, user, writable)]; QEMU shows no NX."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and "-" in parts[0] and len(parts[2]) == 3:
            s, e = parts[0].split("-")
            perm = parts[2]
            out.append((int(s, 16), int(e, 16), perm[0] == "u", perm[2] == "w"))
    return out
