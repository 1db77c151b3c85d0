"""Lab 4 models: the three Part A page-table designs (translators, random
table generators, and the table file the Lab 4 kernel reads), and the reader
of the kernel's `translate`/`split` lines.

The generators make tables that punish the usual mistakes: flag bits and
garbage in every entry (so a frame must be masked out), non-present entries
that are not zero (so P must be tested), CR3 cache bits, shared hash chains.
"""
import re
import struct
from dataclasses import dataclass

# ---- 1. the linear toy table (16-bit VA, 16 entries, 3-bit frame + P) -------
TOY_OFFSET_BITS = 12
TOY_ENTRIES = 16
TOY_P = 0x1


def toy_translate(entries, va):
    """Physical address of va, or None when its entry is not present."""
    e = entries[va >> TOY_OFFSET_BITS]
    if not e & TOY_P:
        return None
    return ((e >> 1) & 0x7) << TOY_OFFSET_BITS | (va & 0xFFF)


def random_toy(rng):
    """16 random entries, at least 4 present and 4 not, in bytes whose unused
    high 4 bits are random too (never all clear on a present entry)."""
    while True:
        entries = [rng.randrange(256) for _ in range(TOY_ENTRIES)]
        present = [i for i, e in enumerate(entries) if e & TOY_P]
        if 4 <= len(present) <= TOY_ENTRIES - 4:
            entries[present[0]] |= 0x80
            return entries


def toy_bytes(entries):
    """A toy table as the kernel keeps it: one byte an entry."""
    return bytes(entries)


# ---- 2. 32-bit x86 paging, 10/10/12, 4 MiB pages with PS --------------------
X32_P, X32_W, X32_U, X32_PWT, X32_PCD, X32_A, X32_D, X32_PS, X32_G = (1 << b for b in range(9))
X32_ADDR = 0xFFFFF000
X32_4M = 0xFFC00000
X32_PAT_4M = 1 << 12  # PAT bit of a 4 MiB entry: not part of the frame


def _u32(mem, pa):
    return int.from_bytes(mem[pa:pa + 4], "little")


def x86_32_translate(mem, cr3, va):
    """Physical address of va through the directory at cr3, or None."""
    pde = _u32(mem, (cr3 & X32_ADDR) + 4 * (va >> 22))
    if not pde & X32_P:
        return None
    if pde & X32_PS:
        return (pde & X32_4M) | (va & ~X32_4M & 0xFFFFFFFF)
    pte = _u32(mem, (pde & X32_ADDR) + 4 * ((va >> 12) & 0x3FF))
    if not pte & X32_P:
        return None
    return (pte & X32_ADDR) | (va & 0xFFF)


@dataclass
class X32Tables:
    mem: bytearray
    cr3: int
    small: list  # directory indices whose entry points at a page table
    huge: list   # directory indices with a 4 MiB page
    holes: list  # directory indices not present


def _flags(rng, low_bits):
    """Random flag/available bits among low_bits, P excluded."""
    return rng.getrandbits(32) & low_bits & ~X32_P


def _not_present(rng):
    """A non-present entry full of leftovers: P clear, everything else random."""
    return rng.getrandbits(32) & ~X32_P


def random_x86_32(rng, tables=6, huge=6, present_share=0.5):
    """Simulated physical memory holding one directory and `tables` page tables
    at random frames, plus `huge` 4 MiB directory entries; the rest is holes."""
    npages = tables + 2 + rng.randrange(6)
    frames = rng.sample(range(npages), tables + 1)
    mem = bytearray(rng.randbytes(npages * 4096))  # the unused frames hold junk too
    directory, table_frames = frames[0], frames[1:]
    slots = rng.sample(range(1024), tables + huge)
    small, big = slots[:tables], slots[tables:]
    for i in range(1024):
        mem[directory * 4096 + 4 * i:directory * 4096 + 4 * i + 4] = \
            _not_present(rng).to_bytes(4, "little")

    def put(frame, i, value):
        mem[frame * 4096 + 4 * i:frame * 4096 + 4 * i + 4] = value.to_bytes(4, "little")

    for slot, tf in zip(small, table_frames):
        put(directory, slot, tf * 4096 | _flags(rng, 0xFFF & ~X32_PS) | X32_P)
        for i in range(1024):
            if rng.random() < present_share:
                put(tf, i, rng.getrandbits(20) << 12 | _flags(rng, 0xFFF) | X32_P)
            else:
                put(tf, i, _not_present(rng))
    for slot in big:
        flags = _flags(rng, 0xFFF | X32_PAT_4M) | X32_PS | X32_P
        put(directory, slot, rng.getrandbits(10) << 22 | flags)
    holes = [i for i in range(1024) if i not in slots]
    cr3 = directory * 4096 | rng.choice([0, X32_PWT, X32_PCD, X32_PWT | X32_PCD])
    return X32Tables(mem, cr3, small, big, holes)


def x86_32_bytes(tables):
    """32-bit tables as the kernel keeps them: CR3, then the memory."""
    return struct.pack("<I", tables.cr3) + bytes(tables.mem)


def x86_32_va(rng, slot):
    """A random address whose directory index is slot."""
    return slot << 22 | rng.getrandbits(22)


# ---- 3. the inverted page table with hash chains ----------------------------
IPT_NONE = -1


def ipt_hash(pid, vpn, nbuckets):
    """The same mix as ipt_hash() in warmup.h (32-bit arithmetic)."""
    x = (vpn ^ (pid * 0x9E3779B9)) & 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    return x % nbuckets


@dataclass
class Frame:
    used: int
    pid: int
    vpn: int
    next: int = IPT_NONE


@dataclass
class InvertedTable:
    frames: list
    buckets: list
    stale: list   # (pid, vpn) of unused frames left in a chain: must not match
    traps: list   # unmapped (pid, vpn) whose chain holds the same vpn for another pid

    def to_bytes(self):
        """As the kernel keeps it: nframes, nbuckets, the buckets, then each
        frame as struct ipt_entry (pid, vpn, next, used)."""
        return (struct.pack(f"<II{len(self.buckets)}i", len(self.frames), len(self.buckets),
                            *self.buckets)
                + b"".join(struct.pack("<IIiI", f.pid, f.vpn, f.next, f.used) for f in self.frames))

    def mapped(self):
        return [(f.pid, f.vpn) for f in self.frames if f.used]


def ipt_translate(table, pid, va):
    vpn = va >> 12
    f = table.buckets[ipt_hash(pid, vpn, len(table.buckets))]
    while f != IPT_NONE:
        e = table.frames[f]
        if e.used and e.pid == pid and e.vpn == vpn:
            return f << 12 | (va & 0xFFF)
        f = e.next
    return None


def _trap_vpn(rng, a, b, nbuckets):
    """A virtual page number that (a, vpn) and (b, vpn) hash to the same bucket."""
    while True:
        vpn = rng.getrandbits(20)
        if ipt_hash(a, vpn, nbuckets) == ipt_hash(b, vpn, nbuckets):
            return vpn


def random_inverted(rng, nframes=512, nbuckets=61, pids=4, shared_vpns=24, stale=12, traps=12):
    """nframes physical frames, most used by one of `pids` address spaces; some
    virtual pages are mapped in several spaces, `traps` of them so that another
    space's lookup of the same page walks the same chain; `stale` unused frames
    stay in a chain with a (pid, vpn) that looks valid. Chains are long."""
    frames = [Frame(0, rng.getrandbits(16), rng.getrandbits(20), rng.randrange(-1, nframes))
              for _ in range(nframes)]
    order = list(range(nframes))
    rng.shuffle(order)
    taken = set()
    common = [rng.getrandbits(20) for _ in range(shared_vpns)]
    chained = []
    for k, f in enumerate(order):
        if k < stale:
            key, used = (rng.randrange(1, pids + 1), rng.getrandbits(20)), 0
        elif k < stale + traps:
            a, b = rng.sample(range(1, pids + 1), 2)
            key, used = (a, _trap_vpn(rng, a, b, nbuckets)), 1
        elif rng.random() < 0.85:
            vpn = rng.choice(common) if rng.random() < 0.3 else rng.getrandbits(20)
            key, used = (rng.randrange(1, pids + 1), vpn), 1
        else:
            continue  # a free frame, in no chain, its fields left as junk
        if key in taken:
            continue
        taken.add(key)
        frames[f].used, frames[f].pid, frames[f].vpn = used, key[0], key[1]
        chained.append(f)
    buckets = [IPT_NONE] * nbuckets
    rng.shuffle(chained)
    for f in chained:  # push on the chain's head: chain order is random
        h = ipt_hash(frames[f].pid, frames[f].vpn, nbuckets)
        frames[f].next, buckets[h] = buckets[h], f
    stale_keys = [(frames[f].pid, frames[f].vpn) for f in chained if not frames[f].used]
    mapped = {(frames[f].pid, frames[f].vpn) for f in chained if frames[f].used}
    trap_keys = sorted({(b, vpn) for a, vpn in mapped for b in range(1, pids + 1)
                        if (b, vpn) not in mapped
                        and ipt_hash(a, vpn, nbuckets) == ipt_hash(b, vpn, nbuckets)})
    return InvertedTable(frames, buckets, stale_keys, trap_keys)


# ---- the file of Part A tables (labs/04-page-walk/warmup_tables.c) -----------
WARMUP_MAGIC = 0x41503457  # "W4PA"
KIND_TOY, KIND_X86_32, KIND_INVERTED = 1, 2, 3
KIND_NAMES = {KIND_TOY: "toy", KIND_X86_32: "x86_32", KIND_INVERTED: "inverted"}


def warmup_file(records):
    """The table file of one boot: records are (kind, table bytes, queries), a
    query a (pid, va) pair (pid 0 but for the inverted table)."""
    out = [struct.pack("<II", WARMUP_MAGIC, len(records))]
    for kind, table, queries in records:
        assert len(table) % 4 == 0, "every table is a whole number of u32 words"
        out.append(struct.pack("<III", kind, len(table), len(queries)))
        out.append(table)
        out.append(b"".join(struct.pack("<II", pid, va) for pid, va in queries))
    return b"".join(out)


_ANSWER = re.compile(r"^(?:pid (\d+) )?0x([0-9a-f]+) -> (0x[0-9a-f]+|fault)$")


def parse_answer(line):
    """One answer line of `toy`/`x86_32`/`inverted` as (pid or None, va, pa or
    None for "fault"); None when the line is not an answer."""
    m = _ANSWER.match(line.strip())
    if not m:
        return None
    return (int(m[1]) if m[1] else None, int(m[2], 16),
            None if m[3] == "fault" else int(m[3], 16))


# ---- the kernel's monitor lines (Part B) ------------------------------------
_TR_OK = re.compile(r"^0x([0-9a-f]+) -> pa=0x([0-9a-f]+) size=(4K|2M|1G) w=([01]) u=([01]) "
                    r"nx=([01]) level=(\d+)$")
_TR_HOLE = re.compile(r"^0x([0-9a-f]+) -> not-mapped level=(-?\d+)$")
_TR_NONCANON = re.compile(r"^0x([0-9a-f]+) -> non-canonical$")
_TR_ANY = re.compile(r"^0x([0-9a-f]+) -> ")
_SPLIT = re.compile(r"^0x([0-9a-f]+) -> l4=(\d+) l3=(\d+) l2=(\d+) l1=(\d+) offset=0x([0-9a-f]+) "
                    r"canonical=([01])$")
SIZES = {"4K": 1 << 12, "2M": 1 << 21, "1G": 1 << 30}


@dataclass
class Translation:
    va: int
    status: str            # "ok", "not-mapped", "non-canonical", or "garbled: <the line>"
    pa: int | None = None
    page_size: int | None = None
    writable: bool = False
    user: bool = False
    nx: bool = False
    level: int = 0


def parse_translation(line):
    """One `translate` line; None when it is not a result line at all."""
    line = line.strip()
    m = _TR_OK.match(line)
    if m:
        return Translation(int(m[1], 16), "ok", int(m[2], 16), SIZES[m[3]], m[4] == "1",
                           m[5] == "1", m[6] == "1", int(m[7]))
    m = _TR_HOLE.match(line)
    if m:
        return Translation(int(m[1], 16), "not-mapped", level=int(m[2]))
    m = _TR_NONCANON.match(line)
    if m:
        return Translation(int(m[1], 16), "non-canonical")
    m = _TR_ANY.match(line)
    if m:  # a result line with a field the kernel left unset or out of range
        return Translation(int(m[1], 16), f"garbled: '{line}'")
    return None


def parse_split(line):
    """One `split` line as (va, [l4, l3, l2, l1], offset, canonical), or None."""
    m = _SPLIT.match(line.strip())
    if not m:
        return None
    return int(m[1], 16), [int(m[i]) for i in (2, 3, 4, 5)], int(m[6], 16), m[7] == "1"
