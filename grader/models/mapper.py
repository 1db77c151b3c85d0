"""Lab 5 models: which physical frames an allocator may hand out, and what the
page tables look like, read from guest physical memory (never through the kernel).

* The memory map comes from the boot information itself (multiboot2 tags from
  GRUB, or the PVH start info of QEMU -kernel), parsed here from physical memory.
* The kernel's footprint comes from the ELF's PT_LOAD program headers.
* The page tables come from a walk of every table reachable from CR3.
"""
import hashlib
import re
import struct
from dataclasses import dataclass

PAGE = 4096
P, W, U, PWT, PCD, A, D, PS, G = (1 << b for b in range(9))
NX = 1 << 63
ADDR_MASK = 0x000FFFFFFFFFF000
AD = A | D  # set by the MMU itself: masked whenever entries are compared

USABLE = 1
MB2_MAGIC_TAG_END, MB2_TAG_MMAP = 0, 6
PVH_MAGIC = 0x336EC578

# map_to / unmap status codes (labs/05-map-to/include/mapper.h)
STATUS = {"MAP_OK": 0, "MAP_ERR_MAPPED": -1, "MAP_ERR_HUGE": -2, "MAP_ERR_NOMEM": -3,
          "MAP_ERR_INVALID": -4, "MAP_ERR_UNMAPPED": -5}


# ---- the memory map ---------------------------------------------------------------

@dataclass
class Region:
    base: int
    end: int
    type: int


def parse_mb2(data):
    """Memory-map regions of a multiboot2 information block (bytes)."""
    total, reserved = struct.unpack_from("<II", data, 0)
    if total != len(data) or reserved != 0:
        raise ValueError(f"not a multiboot2 information block (size {total}, expected {len(data)})")
    regions, p = [], 8
    while p + 8 <= total:
        kind, size = struct.unpack_from("<II", data, p)
        if kind == MB2_MAGIC_TAG_END:
            return regions
        if size < 8 or p + size > total:
            raise ValueError(f"corrupt multiboot2 tag at offset {p}")
        if kind == MB2_TAG_MMAP:
            esize, _ = struct.unpack_from("<II", data, p + 8)
            for q in range(p + 16, p + size - 23, esize):
                base, length, rtype, _ = struct.unpack_from("<QQII", data, q)
                regions.append(Region(base, base + length, rtype))
        p += (size + 7) & ~7
    raise ValueError("multiboot2 information has no end tag")


def parse_pvh(data, read_phys):
    """Memory-map regions of a PVH start info (bytes), whose map lies elsewhere."""
    magic, version, _, _, _, _, _, memmap, entries, _ = struct.unpack_from("<IIIIQQQQII", data, 0)
    if magic != PVH_MAGIC or version < 1 or not 0 < entries < 128:
        raise ValueError("not a PVH start info")
    raw = read_phys(memmap, 24 * entries)
    return [Region(b, b + l, t) for b, l, t, _ in (struct.unpack_from("<QQII", raw, 24 * i)
                                                  for i in range(entries))]


def boot_regions(machine, info_start, info_end):
    """The memory map the boot loader gave the kernel, read from physical memory."""
    data = machine.read_phys(info_start, info_end - info_start)
    if len(data) >= 4 and struct.unpack_from("<I", data, 0)[0] == PVH_MAGIC:
        return parse_pvh(data, machine.read_phys)
    return parse_mb2(data)


def elf_loads(path):
    """Physical [start, end) of every PT_LOAD segment of a 64-bit ELF."""
    with open(path, "rb") as f:
        elf = f.read()
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ValueError(f"{path} is not a 64-bit ELF")
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    out = []
    for i in range(phnum):
        ptype, _, _, _, paddr, _, memsz = struct.unpack_from("<IIQQQQQ", elf, phoff + i * phentsize)
        if ptype == 1 and memsz:
            out.append((paddr, paddr + memsz))
    return out


class FrameRules:
    """Which frames an allocator may hand out on this boot."""

    def __init__(self, regions, kernel_ranges, info_range):
        usable = sorted((r for r in regions if r.type == USABLE), key=lambda r: r.base)
        merged = []
        for r in usable:  # adjacent usable regions form one
            if merged and r.base <= merged[-1].end:
                merged[-1] = Region(merged[-1].base, max(merged[-1].end, r.end), USABLE)
            else:
                merged.append(Region(r.base, r.end, USABLE))
        self.regions = merged + [r for r in regions if r.type != USABLE]
        self.ram_top = max((r.end for r in merged), default=0)  # no page table lies above
        self.kernel = kernel_ranges
        self.info = info_range

    def problem(self, pa):
        """Why pa must never come out of frame_alloc(), or None."""
        if pa % PAGE:
            return "not 4 KiB aligned"
        if pa == 0:
            return "frame 0"
        end = pa + PAGE
        if not any(r.type == USABLE and r.base <= pa and end <= r.end for r in self.regions):
            return "not inside a usable region of the memory map"
        return self.problem_overlap(pa, end)

    def run_problem(self, start, end):
        """Why some frame of [start, end) must never come out of frame_alloc(), or None."""
        if start % PAGE or end % PAGE or end <= start:
            return "not whole 4 KiB frames"
        if start == 0:
            return "frame 0"
        if not any(r.type == USABLE and r.base <= start and end <= r.end for r in self.regions):
            return "not inside one usable region of the memory map"
        return self.problem_overlap(start, end)

    def problem_overlap(self, pa, end):
        if any(r.type != USABLE and pa < r.end and r.base < end for r in self.regions):
            return "overlaps a reserved region of the memory map"
        for s, e in self.kernel:
            if pa < e and s < end:
                return f"overlaps the kernel image (ELF segment 0x{s:x}-0x{e:x})"
        s, e = self.info
        if pa < e and s < end:
            return f"overlaps the boot information (0x{s:x}-0x{e:x})"
        return None

    def in_kernel(self, pa):
        return any(s <= pa < e for s, e in self.kernel)


# ---- page tables ---------------------------------------------------------------------

MAX_TABLES = 4096        # far more than any lab kernel builds


class JunkTables(AssertionError):
    """The tables link to something that cannot be a page table."""


def _link(entry, where, ram_top):
    """The next table of a present non-leaf entry, checked for plausibility
    (never read device memory because of a junk entry)."""
    pa = entry & ADDR_MASK
    if pa >= ram_top:
        raise JunkTables(f"{where} links to a table at 0x{pa:x}, outside RAM: a page table "
                         "holds junk (was a new table zeroed before it was linked?)")
    return pa


def table_tree(mem, cr3, ram_top):
    """{table_pa: level} of every table reachable from CR3 (PML4 = 4 .. PT = 1);
    mem: a PhysCache; ram_top: the end of RAM, where no table can be."""
    tables = {}

    def visit(pa, level):
        if pa in tables:  # one frame linked twice: keep the first level seen
            return
        if len(tables) >= MAX_TABLES:
            raise JunkTables(f"more than {MAX_TABLES} page tables are reachable from CR3: "
                             "a table holds junk entries (was it zeroed?)")
        tables[pa] = level
        if level == 1:
            return
        for i, e in enumerate(mem.table(pa)):
            if e & P and not (level in (2, 3) and e & PS):
                visit(_link(e, f"entry {i} of the table at 0x{pa:x}", ram_top), level - 1)

    visit(cr3 & ADDR_MASK, 4)
    return tables


def leaves_in(mem, cr3, start, end, ram_top):
    """[(va, size, pa, entries)] of the pages mapped in [start, end) (canonical,
    inside one PML4 slot's worth or less); entries = the entries on the path."""
    out = []

    def visit(table, level, base, path):
        span = 1 << (12 + 9 * (level - 1))
        for i, e in enumerate(mem.table(table)):
            va = base + i * span
            if not e & P or va + span <= start or va >= end:
                continue
            if level == 1 or e & PS:
                out.append((va, span, e & ADDR_MASK & ~(span - 1), path + [e]))
                if len(out) > MAX_TABLES:
                    raise JunkTables("far too many pages mapped in the range: junk entries?")
            else:
                visit(_link(e, f"entry {i} of the table at 0x{table:x}", ram_top), level - 1,
                      va, path + [e])

    slot = (start >> 39) & 0x1FF
    top = mem.table(cr3)[slot]
    if top & P:
        base = start & ~((1 << 39) - 1)
        visit(_link(top, f"PML4 entry {slot}", ram_top), 3, base, [top])
    return out


def tables_digest(mem, cr3, ram_top):
    """(digest, tables) over every table reachable from cr3, A/D bits masked:
    equal digests mean the page tables did not change. mem: a PhysCache."""
    tables = table_tree(mem, cr3, ram_top)
    h = hashlib.sha256()
    for pa in sorted(tables):
        h.update(pa.to_bytes(8, "little"))
        h.update(struct.pack("<512Q", *(e & ~AD for e in mem.table(pa))))
    return h.hexdigest(), tables


# ---- QEMU's `info tlb` -----------------------------------------------------------------

_TLB = re.compile(r"^([0-9a-f]{16}): ([0-9a-f]{16}) ([-XGPDACTUW]{9})$", re.M)
TLB_LETTERS = [(NX, "X"), (G, "G"), (PS, "P"), (D, "D"), (A, "A"), (PCD, "C"), (PWT, "T"),
               (U, "U"), (W, "W")]


def info_tlb(text):
    """{va: (pa, flags)} from QEMU's `info tlb` (a walk of the tables by QEMU)."""
    out = {}
    for va, pa, letters in _TLB.findall(text):
        flags = P
        for bit, ch in TLB_LETTERS:
            if ch in letters:
                flags |= bit
        out[int(va, 16)] = (int(pa, 16), flags)
    return out


def flag_text(flags):
    names = [(P, "P"), (W, "W"), (U, "U"), (PWT, "PWT"), (PCD, "PCD"), (A, "A"), (D, "D"),
             (PS, "PS"), (G, "G"), (NX, "NX")]
    return "|".join(n for b, n in names if flags & b) or "0"


# ---- reading physical memory in few round trips ---------------------------------------

class PhysCache:
    """Guest physical memory read through QEMU in aligned chunks (one HMP round
    trip per chunk), for walking many tables at once. Make a new one to see
    memory again after the kernel ran."""

    def __init__(self, machine, chunk=1 << 20):
        # 1 MiB a monitor round trip; a page at a time from a machine whose RAM
        # the grader maps (GuestRam: a copy, no round trip)
        if getattr(machine, "ram", None) is not None:
            chunk = 1 << 12
        self.machine, self.chunk, self.chunks = machine, chunk, {}

    def read(self, pa, size):
        base = pa - pa % self.chunk
        if pa + size <= base + self.chunk:  # within one chunk: the usual case
            if base not in self.chunks:
                self.chunks[base] = self.machine.read_phys(base, self.chunk)
            return self.chunks[base][pa - base:pa - base + size]
        out = bytearray()
        while size > 0:
            base = pa - pa % self.chunk
            if base not in self.chunks:
                self.chunks[base] = self.machine.read_phys(base, self.chunk)
            off = pa - base
            take = min(size, self.chunk - off)
            out += self.chunks[base][off:off + take]
            pa, size = pa + take, size - take
        return bytes(out)

    def u64(self, pa):
        return int.from_bytes(self.read(pa, 8), "little")

    def table(self, pa):
        return list(struct.unpack("<512Q", self.read(pa & ADDR_MASK, PAGE)))
