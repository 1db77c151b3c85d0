"""Lab 3 models: the grader's own decoding of entries, the recursive-mapping
formula, random per-boot layouts (physical offset, CR3 bits, fixtures), and
readers of the lines the lab's monitor commands print.

Nothing here trusts the kernel: decodings are computed from values read out of
physical memory through QEMU, and the layouts are chosen here at random.
"""
import re
from dataclasses import dataclass

from harness import paging

PT_ENTRIES = 512
LEVEL_SHIFT = {1: 12, 2: 21, 3: 30, 4: 39}
SPAN = {lvl: 1 << s for lvl, s in LEVEL_SHIFT.items()}
SIZE_NAMES = {1 << 12: "4K", 1 << 21: "2M", 1 << 30: "1G"}
CR3_FLAGS = paging.PWT | paging.PCD
AD = paging.A | paging.D                # set by the CPU at any time: masked in comparisons
RESERVED_SLOTS = (0, PT_ENTRIES - 1)    # the core's identity map and kernel image
PHYS_GIB = 1                            # the grader boots 128 MiB: one GiB of physical map
HEX = r"(?:0x)?[0-9a-fA-F]+"


# ---- entries ------------------------------------------------------------------

def is_leaf(entry, level):
    return level == 1 or (level in (2, 3) and bool(entry & paging.PS))


def entry_address(entry, level):
    """The frame or table address of a present entry (a huge leaf's bit 12 is PAT)."""
    addr = entry & paging.ADDR_MASK
    if level in (2, 3) and is_leaf(entry, level):
        addr &= ~(SPAN[level] - 1)
    return addr


def decode(entry, level):
    """The text Lab 3's pte_print must produce for this entry."""
    if not entry & paging.P:
        return "-"
    names = []
    for bit, name in paging.FLAG_NAMES:
        if entry & bit:
            names.append("PAT" if name == "PS" and level == 1 else name)
    return " ".join([hex(entry_address(entry, level))] + names)


def same_entry(a, b):
    return (a & ~AD) == (b & ~AD)


# ---- addresses ----------------------------------------------------------------

def slot(va):
    return paging.index(va, 4)


def make_va(l4, rest=0):
    """A canonical address in PML4 slot l4 with the low 39 bits `rest`."""
    return paging.sign_extend((l4 << LEVEL_SHIFT[4]) | rest)


def recursive_table(r, va, level):
    """Virtual address, through recursive slot r, of the level-`level` table of va."""
    addr = 0
    for pos in (4, 3, 2, 1):
        idx = r if pos >= 5 - level else paging.index(va, pos + level)
        addr |= idx << LEVEL_SHIFT[pos]
    return paging.sign_extend(addr)


def recursive_pte(r, va, level):
    return recursive_table(r, va, level) + 8 * paging.index(va, level)


# ---- random layouts -------------------------------------------------------------

@dataclass
class Fixture:
    name: str
    va: int
    pa: int
    size: int
    leaf: str   # letters among w u x
    upper: str

    def param(self):
        return f"0x{self.va:x}:0x{self.pa:x}:{SIZE_NAMES[self.size]}:{self.leaf or '-'}:{self.upper or '-'}"

    def rights(self):
        """Effective (writable, user, nx) through the upper entries and the leaf."""
        both = set(self.leaf) & set(self.upper)  # 'p' (PAT) is not a right
        return ("w" in both, "u" in both, not ("x" in self.leaf and "x" in self.upper))


def free_slot(rng, used, low=1, high=PT_ENTRIES - 2):
    """A PML4 slot in [low, high] that is neither used nor next to a used one."""
    while True:
        s = rng.randint(low, high)
        if not any(abs(s - u) <= 1 for u in used):
            used.add(s)
            return s


def random_physoff(rng):
    """A 1 GiB-aligned upper-half offset the core accepts (not slot 511)."""
    l4 = rng.randint(256, PT_ENTRIES - 2)
    l3 = rng.randint(0, PT_ENTRIES - PHYS_GIB)
    return make_va(l4, l3 << LEVEL_SHIFT[3])


def free_pair(rng, used):
    """Two adjacent free slots s, s+1 on the same side of the canonical hole."""
    while True:
        s = free_slot(rng, set(used), 1, PT_ENTRIES - 3)
        if s != 255 and not any(abs(s + 1 - u) <= 1 for u in used):
            used.update((s, s + 1))
            return s


def random_rights(rng):
    """Leaf letters: a random subset of w u x, and the PAT bit (p) half the time."""
    return "".join(c for c in "wuxp" if rng.random() < 0.5)


def random_fixture_pa(rng, size):
    if size == 1 << 30:
        return rng.randrange(0, 64 << 30, size)  # beyond RAM is fine: only translated
    if size == 1 << 21:
        return rng.randrange(0, 126 << 20, size)
    return rng.randrange(4 << 20, 120 << 20, size)


def random_fixtures(rng, used):
    """fix0..fix2: one of each size at a random place in its own free slot;
    fix3: a 4K leaf that grants everything under upper entries that do not:
    they always withhold execution and W or U (or both), so a dump that takes
    W, U or NX from the leaf alone differs on every seed;
    fix4, fix5: a 1G page ending one slot and a 2M page starting the next, with
    equal rights, so only the page size separates their ranges.
    fix3 and fix5 set the PAT bit (bit 7 of a PT entry, bit 12 of a huge one)."""
    out = []
    for i, size in enumerate((1 << 30, 1 << 21, 1 << 12)):
        va = make_va(free_slot(rng, used), rng.randrange(0, 1 << 39, size))
        out.append(Fixture(f"fix{i}", va, random_fixture_pa(rng, size), size,
                           random_rights(rng), "wux"))
    va = make_va(free_slot(rng, used), rng.randrange(0, 1 << 39, 1 << 12))
    upper = rng.choice(["u", "w", ""])
    out.append(Fixture("fix3", va, random_fixture_pa(rng, 1 << 12), 1 << 12, "wuxp", upper))
    s, leaf = free_pair(rng, used), rng.choice(["w", "wx", "", "x"])
    out.append(Fixture("fix4", make_va(s, (PT_ENTRIES - 1) << LEVEL_SHIFT[3]),
                       random_fixture_pa(rng, 1 << 30), 1 << 30, leaf, "wux"))
    out.append(Fixture("fix5", make_va(s + 1, 0), random_fixture_pa(rng, 1 << 21), 1 << 21,
                       leaf + "p", "wux"))
    return out


# ---- reading the kernel's lines ---------------------------------------------------

def parse_cr3(text):
    m = re.search(rf"cr3 pml4 ({HEX}) flags ({HEX})", text)
    return (int(m.group(1), 16), int(m.group(2), 16)) if m else None


def parse_p2v(text):
    """{pa: (va, value)} from `p2v` lines."""
    out = {}
    for m in re.finditer(rf"^p2v ({HEX}) ({HEX}) ({HEX})\s*$", text, re.M):
        out[int(m.group(1), 16)] = (int(m.group(2), 16), int(m.group(3), 16))
    return out


def parse_pml4(text):
    """{index: (raw, decoded text)} from `pml4` lines."""
    out = {}
    for m in re.finditer(rf"^pml4\[\s*(\d+)\] ({HEX}) (.*?)\s*$", text, re.M):
        out[int(m.group(1))] = (int(m.group(2), 16), m.group(3))
    return out


LEVELS = {"PML4": 4, "PDPT": 3, "PD": 2, "PT": 1}


def parse_walk(text):
    """[(level, table_pa, index, raw, decoded)] from `walk` lines."""
    out = []
    for m in re.finditer(rf"^(PML4|PDPT|PD|PT)\s+({HEX})\[\s*(\d+)\] ({HEX}) (.*?)\s*$", text, re.M):
        out.append((LEVELS[m.group(1)], int(m.group(2), 16), int(m.group(3)), int(m.group(4), 16),
                    m.group(5)))
    return out


def parse_rwalk(text):
    """[(level, table_va, entry_va, raw, decoded)] from `rwalk` lines."""
    out = []
    for m in re.finditer(rf"^(PML4|PDPT|PD|PT)\s+table ({HEX}) entry ({HEX}) ({HEX}) (.*?)\s*$",
                         text, re.M):
        out.append((LEVELS[m.group(1)], int(m.group(2), 16), int(m.group(3), 16),
                    int(m.group(4), 16), m.group(5)))
    return out


@dataclass(frozen=True)
class Range:
    start: int
    end: int
    writable: bool
    user: bool
    nx: bool
    page_size: int

    def __str__(self):
        return (f"{self.start:016x}-{self.end:016x} {'u' if self.user else '-'}r"
                f"{'w' if self.writable else '-'}{'-' if self.nx else 'x'} "
                f"{SIZE_NAMES.get(self.page_size, hex(self.page_size))}")


def parse_ptdump(text):
    """[Range] from `ptdump` lines "START-END SIZE urwx PAGESIZE"."""
    out = []
    sizes = {v: k for k, v in SIZE_NAMES.items()}
    for m in re.finditer(r"^([0-9a-f]{16})-([0-9a-f]{16}) ([0-9a-f]{16}) ([u-])r([w-])([x-]) (4K|2M|1G)\s*$",
                         text, re.M):
        out.append(Range(int(m.group(1), 16), int(m.group(2), 16), m.group(5) == "w",
                         m.group(4) == "u", m.group(6) == "-", sizes[m.group(7)]))
    return out


def expected_ranges(leaves):
    """The grader's ptdump: leaves merged while contiguous with equal size and rights."""
    merged = paging.merge(leaves, key=lambda l: (l.writable, l.user, l.nx, l.size))
    return [Range(s, e, k[0], k[1], k[2], k[3]) for s, e, k in merged]


def merge_user_writable(ranges):
    """Collapse ranges to QEMU `info mem`'s view: (start, end, user, writable)."""
    out = []
    for r in ranges:
        if out and out[-1][1] == r.start and out[-1][2:] == (r.user, r.writable):
            out[-1] = (out[-1][0], r.end, r.user, r.writable)
        else:
            out.append((r.start, r.end, r.user, r.writable))
    return out
