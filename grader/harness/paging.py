"""The grader's own model of x86-64 four-level paging, over physical memory
read from QEMU (never through the kernel).

    read_u64(pa) -> int     reads 8 bytes of guest physical memory

and what changed between two readings, for messages that name the first
difference: snapshot(), table_changes(), describe_changes() ("PML4[37] >
PDPT[5] (table at 0x...): 0x... (P W) -> 0x..."), word_changes().
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


# ---- what changed: first differences, for messages ------------------------------------------

def entry_text(entry):
    """An entry as a message shows it: its 16 hex digits and its flags."""
    names = " ".join(flag_names(entry))
    return f"0x{entry:016x}" + (f" ({names})" if names else "")


@dataclass
class Tables:
    """Page tables as they were at one moment: the PML4's address and the 512
    entries of each table read (snapshot())."""
    root: int
    entries: dict  # {table_pa: tuple of 512 entries}


def snapshot(table, cr3, tables):
    """Tables(...) of `tables` (their physical addresses, the PML4 among them);
    table(pa) reads the 512 entries of one (a PhysCache's table, say)."""
    return Tables(cr3 & ADDR_MASK, {pa: tuple(table(pa)) for pa in tables})


@dataclass
class Change:
    """One entry that differs: `path` is ((level, index), ...) from the PML4 down
    to it, `table` the physical address of the table holding it."""
    path: tuple
    table: int
    before: int
    after: int

    def __str__(self):
        where = " > ".join(f"{LEVEL_NAMES[level]}[{i}]" for level, i in self.path)
        return f"{where} (table at 0x{self.table:x}): {entry_text(self.before)} -> {entry_text(self.after)}"


def _link(entry, level):
    """The table an entry of `level` points to, or None (not present, a page)."""
    if level == 1 or not entry & P or (level in (2, 3) and entry & PS):
        return None
    return entry & ADDR_MASK


def table_changes(before, after, ignore=A | D):
    """Every entry that differs between two snapshots (bits in `ignore` left
    out: the walker sets A and D), in the order a walk from the PML4 meets
    them; a table one side links and the other does not counts as all zero
    there, so a new table's entries are changes too."""
    out, seen = [], set()
    if before.root == after.root and before.entries == after.entries:
        return out  # the usual case after a refusal: nothing to walk

    def visit(tb, ta, level, path):
        if (tb, ta) in seen:
            return
        seen.add((tb, ta))
        old, new = before.entries.get(tb), after.entries.get(ta)
        if tb == ta and old is not None and old == new:  # the same table, unchanged: its links only
            for i, e in enumerate(old):
                c = _link(e, level)
                if c is not None:
                    visit(c, c, level - 1, path + ((level, i),))
            return
        for i in range(512):
            eb, ea = old[i] if old else 0, new[i] if new else 0
            if (eb ^ ea) & ~ignore:
                out.append(Change(path + ((level, i),), tb if old else ta, eb, ea))
            cb, ca = _link(eb, level), _link(ea, level)
            if cb is not None or ca is not None:
                visit(cb, ca, level - 1, path + ((level, i),))

    visit(before.root, after.root, 4, ())
    return out


def describe_changes(before, after, ignore=A | D):
    """The first entry that differs, level, index and values before -> after,
    and how many more do; '' when the tables are the same."""
    if before.root != after.root:
        return f"CR3 moved from the PML4 at 0x{before.root:x} to 0x{after.root:x}"
    changes = table_changes(before, after, ignore)
    if not changes:
        return ""
    more = len(changes) - 1
    return f"{changes[0]}" + (f" (and {more} more entr{'ies' if more > 1 else 'y'} changed)" if more else "")


def word_changes(before, after):
    """[(index, old, new)] of the 8-byte words that differ between two equal-length
    byte strings (a table, or memory read twice)."""
    return [(i // 8, int.from_bytes(before[i:i + 8], "little"), int.from_bytes(after[i:i + 8], "little"))
            for i in range(0, min(len(before), len(after)) - 7, 8) if before[i:i + 8] != after[i:i + 8]]
