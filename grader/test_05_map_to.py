"""Lab 5: map_to. The frame allocator, creating and removing mappings, the TLB,
the "New!" demo and demand paging.

One boot (through GRUB, as students run it) serves every test: all scenarios
are non-fatal, because the kit reads memory through probes that survive a
page fault. Every verdict comes from QEMU's view of the machine: physical
memory (page tables walked by models/mapper.py), gva2gpa, `info tlb` and the
exception log; the addresses, frames, flags and the pool size are chosen at
random per boot. The kit's printed status codes are compared, never trusted
alone.
"""
import re

import pytest

from harness import KernelError, new_rng, paging, symbols
from harness.machine import KERNEL_VMA, STOPPED
from models import mapper as mm

LAB = "05-map-to"
PAGE = mm.PAGE
LAZY_BASE, LAZY_SIZE = 0xFFFFC90000000000, 1 << 30
VGA_FRAME = 0xB8000
VGA_BYTES = 80 * 25 * 2
MAX_PHYS = 1 << 32  # labs/05-map-to/pool.c: the most memory the kit's checks cover
RAM_FRAMES = (0x100000, 0x7F00000)  # where the random (never accessed) frames come from
RANDOM_FLAG_BITS = (mm.W, mm.U, mm.NX, mm.G, mm.PWT, mm.PCD)
ACCESSED_DIRTY_RW = mm.P | mm.W | mm.A | mm.D  # preset A/D: the first read needs no re-walk
STALE_TRIES = 3

BANNER = re.compile(r"lab5: pool (\d+) frames; lazy region (0x[0-9a-f]+)-(0x[0-9a-f]+); "
                    r"multiboot info (0x[0-9a-f]+)-(0x[0-9a-f]+)")
STATUS = re.compile(r"(?:map_to|unmap|new_demo)\([^)]*\) = (-?\d+) (\S+)(?: frame (0x[0-9a-f]+))?")
READ = re.compile(r"read (0x[0-9a-f]+): (?:0x([0-9a-f]{16})|page fault cr2=(0x[0-9a-f]+) "
                  r"err=(0x[0-9a-f]+))")


class Lab5:
    """The shared boot and what the grader knows about it: the memory map and
    the kernel's footprint (its own reading), the PML4 slots in use."""

    def __init__(self, machine, rng, frames, physoff, trim=0):
        self.m, self.rng, self.frames, self.physoff = machine, rng, frames, physoff
        self.trim = trim  # the kernel's trim= parameter: usable regions shrunk at both ends
        # pexpect sleeps 50 ms before every send by default: 2/3 of this lab's time
        machine.child.delaybeforesend = None
        self.used_slots = set()
        self.used_low = set()  # (i3, i2) positions under PML4[0] taken by tests
        self.ready = False
        self.twin = None  # the other boot of the run

    def start(self):
        """Wait for the boot and learn the machine, once; a failure is kept and
        raised again, so later tests do not wait for a prompt that was consumed."""
        if isinstance(self.ready, AssertionError):
            raise self.ready
        if not self.ready:
            try:
                self._learn()
            except AssertionError as e:  # KernelError too
                self.ready = e
                raise
            self.ready = True

    def _learn(self):
        try:
            out = self.m.wait_prompt()
        except KernelError as e:
            cause = e.verdict == "panic" and self._boot_stop_cause()  # a stub is said as such
            if cause:
                raise KernelError(e.verdict, f"{cause}\n{e}") from None
            raise
        b = BANNER.search(out)
        if not b:
            raise AssertionError("the kernel did not print the lab's boot line (lab5: pool ...); "
                                 "it printed:\n" + out[-800:])
        self.pool = int(b.group(1))
        self.boot_bad = re.findall(r"bad frame (0x[0-9a-f]+) from frame_alloc: ([^\n]*)", out)
        self.info = (int(b.group(4), 16), int(b.group(5), 16))
        try:
            regions = trimmed(mm.boot_regions(self.m, *self.info), self.trim)
        except ValueError as e:
            raise AssertionError(f"the boot information at 0x{self.info[0]:x} is unreadable ({e}): "
                                 "did frame_init() hand out its frame, so the kit's fill pattern "
                                 "overwrote it?")
        self.regions = regions
        self.rules = mm.FrameRules(regions, mm.elf_loads(self.m.elf), self.info)
        self.cr3 = self.m.regs().cr3
        mem = mm.PhysCache(self.m)
        pml4 = mem.table(self.cr3)
        self.used_slots = {i for i, e in enumerate(pml4) if e & mm.P}
        self.used_slots |= {mm_index(LAZY_BASE, 4), 0, 511}
        self.low_pdpt = mem.table(pml4[0])
        self.low_pd = mem.table(self.low_pdpt[0])

    def _boot_stop_cause(self):
        """When the boot stopped in a panic called by frame_free() from
        frame_init() (QEMU's stack), the likely reason, or None."""
        try:
            stack = self.m.backtrace()
        except (KernelError, ValueError):
            return None
        if not {"panic_at", "frame_free", "frame_init"} <= set(stack):
            return None
        text = (f"at boot frame_init() called frame_free() on a frame it refuses (QEMU's stack: "
                f"{' <- '.join(str(f) for f in stack if f)}).")
        if self.trim:
            return text + " This boot's usable regions start and end off a 4 KiB boundary: " \
                "round each region's start up and its end down to whole frames."
        twin_ok = self.twin is not None and self.twin.trim and "lab5: pool" in self.twin.m.text
        return text + " Most likely frame 0: this boot's memory map has a usable region from " \
            "address 0, and frame 0 is FRAME_NONE, never in the pool" + \
            (" (the audit boot, whose regions are trimmed so frame 0 is never whole, booted)"
             if twin_ok else "") + ". Leave frame 0 out in frame_init."

    # ---- choosing addresses ---------------------------------------------------
    def fresh_page(self, half=None):
        """A random page in a PML4 slot nobody uses (never handed out twice)."""
        half = half or self.rng.choice(["user", "kernel"])
        lo, hi = (1, 255) if half == "user" else (256, 510)
        slot = self.rng.choice([s for s in range(lo, hi + 1) if s not in self.used_slots])
        self.used_slots.add(slot)
        va = (slot << 39) | (self.rng.randrange(512) << 30) | (self.rng.randrange(512) << 21) \
            | (self.rng.randrange(512) << 12)
        return mm_canonical(va)

    def low_page(self, new_pd):
        """A random page under PML4[0]: a new PDPT entry (needs a PD and a PT)
        or a new PD entry under the core's low PD (needs a PT)."""
        if new_pd:
            i3 = self.rng.choice([i for i in range(1, 512)
                                  if not self.low_pdpt[i] & mm.P and (i, None) not in self.used_low])
            self.used_low.add((i3, None))
            return (i3 << 30) | (self.rng.randrange(512) << 21) | (self.rng.randrange(512) << 12)
        i2 = self.rng.choice([i for i in range(1, 512)
                              if not self.low_pd[i] & mm.P and (0, i) not in self.used_low])
        self.used_low.add((0, i2))
        return (i2 << 21) | (self.rng.randrange(512) << 12)

    def random_frame(self):
        return self.rng.randrange(*RAM_FRAMES) & ~(PAGE - 1)

    def random_flags(self):
        return sum(b for b in RANDOM_FLAG_BITS if self.rng.random() < 0.5)

    # ---- commands -----------------------------------------------------------------
    def status(self, line):
        out = self.m.command(line)
        s = STATUS.search(out)
        if not s:
            raise AssertionError(f"`{line}` printed no status:\n{out[-500:]}")
        code, name = int(s.group(1)), s.group(2)
        return code, name, (int(s.group(3), 16) if s.group(3) else None)

    def map(self, va, pa, flags):
        code, name, _ = self.status(f"map 0x{va:x} 0x{pa:x} 0x{flags:x}")
        return code

    def read(self, *vas):
        """{va: ("value", v) | ("fault", cr2, err)} for each va, one command."""
        out = self.m.command("read " + " ".join(f"0x{va:x}" for va in vas))
        res = {}
        for r in READ.finditer(out):
            va = int(r.group(1), 16)
            res[va] = ("value", int(r.group(2), 16)) if r.group(2) else \
                ("fault", int(r.group(3), 16), int(r.group(4), 16))
        missing = [hex(va) for va in vas if va not in res]
        if missing:
            raise AssertionError(f"`read` printed nothing for {missing}:\n{out[-500:]}")
        return res

    def alloc(self):
        out = self.m.command("alloc")
        a = re.search(r"alloc (0x[0-9a-f]+)", out)
        assert a, f"`alloc` printed no frame:\n{out}"
        pa = int(a.group(1), 16)
        assert pa != 0, "frame_alloc() returned FRAME_NONE though the pool is not empty"
        why = self.rules.problem(pa)
        assert why is None, f"frame_alloc() returned 0x{pa:x}: {why}"
        return pa

    def snapshot(self):
        """paging.Tables of every table reachable from CR3, read from physical
        memory (paging.describe_changes compares two, A/D aside)."""
        mem = mm.PhysCache(self.m)
        return paging.snapshot(mem.table, self.cr3, mm.table_tree(mem, self.cr3, self.rules.ram_top))

    def pool_size(self):
        """How many frames frame_alloc() hands out before FRAME_NONE (all given back)."""
        out = self.m.command("hold 0")
        self.m.command("release")
        held = re.search(r"held (\d+) frames", out)
        assert held, f"`hold 0` failed:\n{out[-500:]}"
        return int(held.group(1))

    def walk(self, va, mem=None):
        mem = mem or mm.PhysCache(self.m)
        return paging.walk(mem.u64, self.cr3, va)


def trimmed(regions, n):
    """The memory map as the kernel sees it with trim=n (labs/05-map-to/main.c)."""
    return [mm.Region(r.base + n, r.end - n, r.type)
            if n and r.type == mm.USABLE and r.end - r.base > 2 * n else r for r in regions]


def mm_index(va, level):
    return (va >> (12 + 9 * (level - 1))) & 0x1FF


def mm_canonical(va):
    return va | 0xFFFF000000000000 if va & (1 << 47) else va


def status_code(name):
    return mm.STATUS[name]


def _start_machines(pool):
    """Both boots start together: the shared one (GRUB, a capped and filled
    pool) and one with the allocator's whole pool for the audit (PVH), its
    usable regions trimmed by a few bytes (not a multiple of 4 KiB) at both
    ends so frame_init must round; after the audit it is the spare boot that
    a panic may end."""
    if "main" in pool:
        return
    rng = new_rng(LAB)
    frames = rng.randrange(600, 1000)  # reaches past the boot information and the kernel
    physoff = (0xFFFF800000000000 | (rng.randrange(260, 400) << 39)
               | (rng.randrange(0, 500) << 30))
    fill = int.from_bytes(bytes(rng.randrange(0x11, 0xFF) for _ in range(8)), "little")
    trim = rng.randrange(1, PAGE)
    pool.start_many([("main", LAB, dict(via="grub", seed=rng.randrange(1 << 32), frames=frames,
                                        physoff=physoff, fill=fill)),
                     ("full", LAB, dict(seed=rng.randrange(1 << 32), fill=0, trim=trim))])
    pool.lab = Lab5(pool["main"], rng, frames, physoff)
    pool.full = Lab5(pool["full"], rng, None, 0xFFFF888000000000, trim)
    pool.lab.twin, pool.full.twin = pool.full, pool.lab


@pytest.fixture(scope="module")
def lab(machine_pool):
    _start_machines(machine_pool)
    return machine_pool.lab


@pytest.fixture(scope="module")
def full_pool(machine_pool):
    _start_machines(machine_pool)
    return machine_pool.full


@pytest.fixture(scope="module")
def random_maps(lab):
    """Five random mappings made once: new PML4 slots in each half (three new
    tables each), a new PDPT entry under PML4[0] (two), a new PD entry (one),
    and a user page beside the kernel-half one (its PML4 entry must gain U).
    Records the walk before and the tables that existed before. A failure is
    kept and raised by each test that uses the mappings."""
    try:
        lab.start()
        kernel_va = lab.fresh_page("kernel")
        beside = kernel_va ^ (lab.rng.randrange(1, 512) << 30)  # same PML4 slot, new PDPT entry
        plan = [(lab.fresh_page("user"), lab.random_flags()),
                (kernel_va, lab.random_flags() & ~mm.U),
                (lab.low_page(True), lab.random_flags()),
                (lab.low_page(False), lab.random_flags()),
                (beside, lab.random_flags() | mm.U)]
        maps = []
        pool_before = lab.pool_size()
        for va, flags in plan:
            if va == beside and not _clean(maps[1]):
                continue  # it would descend into junk: the zeroing test reports the cause
            frame = lab.random_frame()
            mem = mm.PhysCache(lab.m)
            before = lab.walk(va, mem)
            tables_before = mm.table_tree(mem, lab.cr3, lab.rules.ram_top)
            try:
                code = lab.map(va, frame, flags)
            except KernelError as e:
                cause = _junk_walk(lab, va, flags, frame, tables_before)
                if cause:
                    raise KernelError(e.verdict, f"{cause}\n{e}") from None
                raise
            mem = mm.PhysCache(lab.m)  # the state right after this map_to
            after = lab.walk(va, mem)
            created = {tbl: mem.table(tbl) for lvl, tbl, _, _ in after.steps if lvl < before.level}
            maps.append(dict(va=va, frame=frame, flags=flags, before=before, code=code,
                             tables_before=tables_before, after=after, created=created))
        lab.random_pool = (pool_before, lab.pool_size())
        return maps
    except AssertionError as e:  # KernelError too
        return e


def _junk_walk(lab, va, flags, frame, tables_before):
    """When map_to stopped the kernel: the new table on va's path that is not
    zeroed (its entries read from physical memory), as a message, or None."""
    mem, table = mm.PhysCache(lab.m), lab.cr3 & mm.ADDR_MASK
    for level in (4, 3, 2):
        idx = mm_index(va, level)
        entries = mem.table(table)
        junk = [(i, e) for i, e in enumerate(entries) if e and i != idx]
        if table not in tables_before and (junk or entries[idx] & mm.ADDR_MASK >= lab.rules.ram_top):
            i, e = junk[0] if junk else (idx, entries[idx])
            return (f"map_to(0x{va:x}, 0x{frame:x}, {mm.flag_text(flags)}) stopped the kernel after "
                    f"linking a new {mm_level_name(level)} at 0x{table:x} that is not zeroed: its "
                    f"entry {i} holds 0x{e:x}, and map_to followed entry {idx} (0x{entries[idx]:x}) "
                    "as if it led to a table. A frame from frame_alloc() holds whatever was left in "
                    "it; memset each new table to 0 through phys_to_virt() before linking it")
        if not entries[idx] & mm.P or entries[idx] & mm.ADDR_MASK >= lab.rules.ram_top:
            return None
        table = entries[idx] & mm.ADDR_MASK
    return None


def _clean(mp):
    """Are the tables this mapping created zero but for the entry on its path?"""
    path = {tbl: idx for _, tbl, idx, _ in mp["after"].steps}
    return all(not e or i == path.get(tbl) for tbl, t in mp["created"].items()
               for i, e in enumerate(t))


def _maps(random_maps):
    if isinstance(random_maps, AssertionError):
        raise random_maps
    return random_maps


def _describe(mp):
    return f"map_to(0x{mp['va']:x}, 0x{mp['frame']:x}, {mm.flag_text(mp['flags'])})"


def _require_ok(mp):
    assert mp["code"] == 0, f"{_describe(mp)} returned {mp['code']}, expected MAP_OK (0)"


# ---- the allocator ------------------------------------------------------------------------------

def _audit(lab, tables=()):
    """Take every free frame (the kit lists them as runs); check each run against
    the grader's own memory map, ELF and boot information, and against `tables`.
    Returns the set of free frames."""
    out = lab.m.command("hold 0 list")
    lab.m.command("release")
    bad = re.findall(r"bad frame (0x[0-9a-f]+) from frame_alloc: ([^\n]*)", out)
    assert not bad, f"frame_alloc() handed out {bad[0][0]}: {bad[0][1]}"
    runs = [(int(s, 16), int(e, 16)) for s, e in re.findall(r"frames (0x[0-9a-f]+)-(0x[0-9a-f]+)", out)]
    held = re.search(r"held (\d+) frames", out)
    assert held, f"`hold 0 list` failed:\n{out[-500:]}"
    assert sum(e - s for s, e in runs) // PAGE == int(held.group(1)), "kit check: runs and count differ"
    for s, e in runs:
        why = lab.rules.run_problem(s, e)
        assert why is None, f"frame_alloc() handed out frames 0x{s:x}-0x{e:x}: {why}"
        live = [t for t in tables if s <= t < e]
        assert not live, f"frame_alloc() handed out 0x{live[0]:x}, a page table in use"
    return {pa for s, e in runs for pa in range(s, e, PAGE)}


def _kernel_image(lab):
    """[start, end) of the kernel image as boot_info gives it to frame_init
    (labs/kernel/multiboot.c), from the ELF: its first load address, __kernel_end."""
    end = symbols.load(lab.m.elf).addr("__kernel_end") - KERNEL_VMA
    return min(s for s, _ in lab.rules.kernel), end


def _whole_pool(lab):
    """Every frame the contract puts in a pool without a cap: each whole 4 KiB
    inside one usable region, not frame 0, overlapping neither the kernel image
    nor the boot information."""
    (ks, ke), (bs, be) = _kernel_image(lab), lab.info
    frames = set()
    for r in lab.regions:
        if r.type == mm.USABLE:
            first, end = -(-r.base // PAGE) * PAGE, r.end // PAGE * PAGE
            frames.update(pa for pa in range(max(first, PAGE), min(end, MAX_PHYS), PAGE)
                          if not (pa < ke and ks < pa + PAGE or pa < be and bs < pa + PAGE))
    return frames


def _where(lab, pa):
    """What is notable about the place of frame pa, for a message ("" if nothing)."""
    (ks, ke), (bs, be) = _kernel_image(lab), lab.info
    notes = [why for cond, why in [
        (pa == ke, f"right after the kernel image, which ends at 0x{ke:x}"),
        (pa + PAGE == ks, f"right before the kernel image, from 0x{ks:x}"),
        (be <= pa < be + PAGE, f"the first frame after the boot information, which ends at 0x{be:x}"),
        (bs - PAGE < pa + PAGE <= bs, f"the last frame before the boot information, from 0x{bs:x}")]
        if cond]
    for r in lab.regions:
        first, end = -(-r.base // PAGE) * PAGE, r.end // PAGE * PAGE
        if r.type == mm.USABLE and pa == first:
            notes.append(f"the first whole frame of the usable region 0x{r.base:x}-0x{r.end:x}")
        if r.type == mm.USABLE and pa + PAGE == end:
            notes.append(f"the last whole frame of the usable region 0x{r.base:x}-0x{r.end:x}")
    return "; ".join(notes)


def _pool_short_cause(lab):
    """Why the capped pool is short, from physical memory: frame_free writes its
    link into the first eight bytes of a freed frame, and frame 0 holds the
    BIOS's interrupt vectors (segment:offset pairs, never a frame address)."""
    word = int.from_bytes(lab.m.read_phys(0, 8), "little")
    if word % PAGE == 0 and word < lab.rules.ram_top:
        return (f" Frame 0 went into the pool: its first eight bytes now hold 0x{word:x}, a free-list "
                "link, where the BIOS keeps its interrupt vectors. frame_alloc() handing out frame 0 "
                "returns FRAME_NONE (0), which means \"empty\", so the pool ends there: keep frame 0 "
                "out in frame_init.")
    if lab.pool == 0:
        return " frame_alloc() returned FRAME_NONE at once: did frame_init add any frame?"
    return " Did frame_init stop early, or count a frame it did not add (frame 0, an overlap)?"


@pytest.mark.points(3)
def test_allocator_hands_out_only_free_usable_frames(lab, full_pool, machine_pool):
    """Every free frame is usable, outside the kernel and the boot information, and unique; without a cap the pool holds every such frame (regions not page-aligned); the pool respects frames=."""
    for state in (full_pool, lab):
        state.start()
        assert not state.boot_bad, f"at boot, frame_alloc() handed out {state.boot_bad[0][0]}: " \
            f"{state.boot_bad[0][1]}"
    _start_spare(machine_pool)
    got, want = _audit(full_pool), _whole_pool(full_pool)
    missing, extra = sorted(want - got), sorted(got - want)
    assert not extra, f"frame_init put frame 0x{extra[0]:x} in the pool: it is not a whole 4 KiB " \
        f"inside one usable region ({len(extra)} such frames; round each region's start up and its " \
        "end down to 4 KiB)"
    assert not missing, f"without a cap (FRAME_POOL_ALL) the pool lacks {len(missing)} of the " \
        f"{len(want)} frames it may hold, first 0x{missing[0]:x}" + \
        (f" ({_where(full_pool, missing[0])})" if _where(full_pool, missing[0]) else "") + \
        ": a frame that only touches the kernel image or the boot information does not overlap it, " \
        "and every whole frame of a usable region counts"
    assert lab.pool >= lab.frames, f"the pool holds {lab.pool} frames, but frame_init was asked " \
        f"for at most {lab.frames} (max_frames), with far more usable memory." + _pool_short_cause(lab)
    assert lab.pool == lab.frames, f"the pool holds {lab.pool} frames, but frame_init was asked " \
        f"for at most {lab.frames} (max_frames)"
    mem = mm.PhysCache(lab.m)
    tables = mm.table_tree(mem, lab.cr3, lab.rules.ram_top)
    for pa in tables:
        if not lab.rules.in_kernel(pa):
            why = lab.rules.problem(pa)
            assert why is None, f"a page table made by map_to is frame 0x{pa:x}: {why}"
    assert len(_audit(lab, tables)) <= lab.frames, "the allocator gave out more frames than its pool had"


@pytest.mark.points(1)
def test_frame_free_panics_on_misaligned_frame(full_pool):
    """frame_free of a frame plus an offset below 4 KiB panics in frame_free (on the spare boot, after its audit)."""
    full_pool.start()
    frame = full_pool.alloc()
    bad = frame | full_pool.rng.randrange(1, PAGE) | 0x801  # bit 0 and bit 11 set
    _free_must_panic(full_pool.m, bad, f"frame_free(0x{bad:x}) returned: a frame that is not 4 KiB "
                     "aligned must make frame_free panic (\"frame_free: ...\"), not join the pool")


def _free_must_panic(m, pa, returned):
    """Type `free pa` at m's prompt: frame_free must panic, as QEMU's stack shows
    (`returned`: the message when it did not)."""
    m.send(f"free 0x{pa:x}")
    r = m.expect(r"freed 0x[0-9a-f]+|" + re.escape(STOPPED), allow_stop=True,
                 what=f"`freed` or a stop after `free 0x{pa:x}`")
    assert r.group(0) == STOPPED, returned
    m.assert_panicked_in("frame_free", f"frame_free(0x{pa:x})")


def _start_spare(pool):
    """A second spare boot, for frame_free(FRAME_NONE)'s panic (a small pool: quick),
    started once the first two have booted: it boots while the tests use them
    (started with them, it took CPU from their boots: 0.08 s more a grading)."""
    if "none" not in pool:
        rng = new_rng(f"{LAB}:none")
        pool.start("none", LAB, seed=rng.randrange(1 << 32), frames=rng.randrange(16, 64), fill=0)
    return pool["none"]


@pytest.mark.points(1)
def test_frame_free_panics_on_frame_none(machine_pool):
    """frame_free(FRAME_NONE) panics in frame_free (a boot of its own): freeing 0 would
    write a free-list link over the BIOS's vectors and make the pool look empty."""
    m = _start_spare(machine_pool)
    m.wait_prompt()
    _free_must_panic(m, 0, "frame_free(FRAME_NONE) returned: freeing frame 0 (FRAME_NONE, "
                     "\"no frame\") must make frame_free panic (\"frame_free: ...\"), not put it in the pool")


# ---- creating mappings ----------------------------------------------------------------

@pytest.mark.points(3)
def test_map_random_pages_reach_their_frames(lab, random_maps):
    """Random (page, frame, flags): QEMU's gva2gpa, `info tlb` and the leaf entry agree."""
    tlb = mm.info_tlb(lab.m.hmp("info tlb"))
    mem = mm.PhysCache(lab.m)
    for mp in _maps(random_maps):
        _require_ok(mp)
        va, frame, flags = mp["va"], mp["frame"], mp["flags"]
        w = lab.walk(va, mem)
        assert w.mapped and w.page_size == PAGE, f"after {_describe(mp)} the page is not mapped " \
            f"by a 4 KiB entry (the walk stops at level {w.level})"
        leaf = w.steps[-1][3]
        want = frame | flags | mm.P
        assert leaf & ~mm.AD == want, f"after {_describe(mp)} the PT entry is 0x{leaf:x}, " \
            f"expected 0x{want:x} (plus A/D set by the CPU)"
        assert lab.m.gva2gpa(va) == frame, f"QEMU's gva2gpa 0x{va:x} does not give 0x{frame:x}"
        assert va in tlb, f"QEMU's `info tlb` has no line for 0x{va:x}"
        pa, tflags = tlb[va]
        shown = mm.W | mm.U | mm.NX | mm.G | mm.PWT | mm.PCD
        assert pa == frame and tflags & shown == flags & shown, \
            f"`info tlb` shows 0x{va:x} -> 0x{pa:x} {mm.flag_text(tflags & shown)}, " \
            f"expected 0x{frame:x} {mm.flag_text(flags & shown)}"


@pytest.mark.points(3)
def test_map_creates_fresh_zeroed_tables(lab, random_maps):
    """Each table map_to creates is a new frame from the pool, zero except the one entry on the path."""
    for mp in _maps(random_maps):
        _require_ok(mp)
        first_missing, after = mp["before"].level, mp["after"]  # the level whose entry was empty
        assert after.mapped, f"after {_describe(mp)} the page is not mapped"
        created = [(lvl, tbl, idx) for lvl, tbl, idx, _ in after.steps if lvl < first_missing]
        assert len(created) == first_missing - 1, f"{_describe(mp)}: expected " \
            f"{first_missing - 1} new table(s) below level {first_missing}, found {len(created)}"
        for lvl, tbl, idx in created:
            name = mm_level_name(lvl)
            assert tbl not in mp["tables_before"], f"{_describe(mp)}: the new {name} at 0x{tbl:x} " \
                "was already a page table in use"
            why = lab.rules.problem(tbl)
            assert why is None, f"{_describe(mp)}: the new {name} is frame 0x{tbl:x}, {why}"
            junk = [(i, e) for i, e in enumerate(mp["created"][tbl]) if e and i != idx]
            assert not junk, f"{_describe(mp)}: the new {name} at 0x{tbl:x} is not zeroed: entry " \
                f"{junk[0][0]} holds 0x{junk[0][1]:x} ({len(junk)} stray entries): a frame from " \
                "frame_alloc() holds whatever was left in it; memset each new table to 0 through " \
                "phys_to_virt() before linking it"
    made = sum(len(mp["created"]) for mp in random_maps)
    before, after = lab.random_pool
    assert before - after == made, f"these {len(random_maps)} map_to calls created {made} tables " \
        f"but the pool went from {before} to {after} frames: map_to must take exactly one frame " \
        "per table it links (and give back any other)"
    tables = mm.table_tree(mm.PhysCache(lab.m), lab.cr3, lab.rules.ram_top)
    _audit(lab, tables)  # no table in use may still be in the free pool


def mm_level_name(level):
    return {4: "PML4", 3: "PDPT", 2: "PD", 1: "PT"}[level]


@pytest.mark.points(2)
def test_map_parent_entries_present_writable_user(lab, random_maps):
    """New parent entries are exactly P|W (plus U for a user page); existing ones gain what is missing."""
    checked = mm.P | mm.W | mm.U | mm.NX | mm.PS | mm.PWT | mm.PCD | mm.G
    for mp in _maps(random_maps):
        _require_ok(mp)
        user = bool(mp["flags"] & mm.U)
        want = mm.P | mm.W | (mm.U if user else 0)
        for lvl, tbl, idx, e in mp["after"].steps[:-1]:
            new_link = lvl <= mp["before"].level
            got = e & checked
            ok = got == want if new_link else got & want == want
            lacking = mm.flag_text(want & ~got) if want & ~got else ""
            cause = (f": a parent entry without {lacking} narrows every page below it (the CPU "
                     "ANDs W and U over the levels); link new tables with P|W, plus U for a user "
                     "page, and add those bits to existing parents") if lacking else \
                ": a new parent entry carries only P|W (plus U), never the leaf's other flags"
            assert ok, f"{_describe(mp)}: the {mm_level_name(lvl)} entry {idx} (a parent entry) " \
                f"is {mm.flag_text(got)}, expected {'exactly ' if new_link else 'at least '}" \
                f"{mm.flag_text(want)}" + cause


# ---- failures change nothing -----------------------------------------------------------

HINTS = {  # the usual cause when a refusal returned something else
    "MAP_ERR_HUGE": " A PDPT or PD entry on the way has PS set (a 2 MiB or 1 GiB page): its address "
                    "is the memory it maps, not a table; stop there with MAP_ERR_HUGE.",
    "MAP_ERR_MAPPED": " The PT entry is present: refuse instead of replacing a mapping.",
    "MAP_ERR_INVALID": " Check the arguments before walking: page and frame 4 KiB aligned, page "
                       "canonical (bits 63..48 copy bit 47), flags within MAP_FLAGS_ALLOWED.",
}


def _refused(lab, cases, pool=True):
    """Run each (command, expected status, what it is): each must print its
    status, and the page tables must be byte-for-byte as before (A/D masked),
    the pool as large as before (unless `pool` is False: the test holds it)."""
    before = lab.snapshot()
    size = lab.pool_size() if pool else None
    for line, expect, why in cases:
        code, name, _ = lab.status(line)
        call = line_call(line)
        assert code == status_code(expect), f"{call} {why}: returned {code} {name}, expected " \
            f"{expect} ({status_code(expect)}).{HINTS.get(expect, '')}"
    after = lab.snapshot()
    calls = " / ".join(f"{e} for {line_call(line)}" for line, e, _ in cases)
    changed = paging.describe_changes(before, after)
    assert not changed, f"{calls}, but the page tables changed: " \
        f"{changed}. A refused call must leave every table as it was " \
        "(walk and check everything before writing)"
    if pool:
        now = lab.pool_size()
        assert now == size, f"{calls}, but the pool went from {size} to {now} frames: a refused " \
            "call must not keep (or free) any frame"


def line_call(line):
    """The C call a monitor command line stands for."""
    cmd, *args = line.split()
    return {"map": "map_to", "unmap": "unmap"}.get(cmd, cmd) + "(" + ", ".join(args) + ")"


def _map_line(va, pa, flags):
    return f"map 0x{va:x} 0x{pa:x} 0x{flags:x}"


@pytest.mark.points(2)
def test_map_fails_when_already_mapped(lab):
    """Mapping a page that is mapped returns MAP_ERR_MAPPED and changes no table and no pool."""
    lab.start()
    va, frame = lab.fresh_page(), lab.random_frame()
    assert lab.map(va, frame, mm.W) == 0, f"map_to(0x{va:x}, ...) of a fresh page failed"
    text = symbols.load(lab.m.elf).addr("lab_main") & ~(PAGE - 1)
    _refused(lab, [(_map_line(va, lab.random_frame(), mm.W | mm.NX), "MAP_ERR_MAPPED",
                    "on a page mapped just before"),
                   (_map_line(text, lab.random_frame(), 0), "MAP_ERR_MAPPED", "on a kernel text page")])
    assert lab.m.gva2gpa(va) == frame, "the first mapping did not survive the refused second one"


@pytest.mark.points(2)
def test_map_fails_under_huge_page(lab):
    """map_to and unmap of a page inside a 2 MiB page of the physical-memory map (its first page, a random one) give MAP_ERR_HUGE and change nothing."""
    lab.start()
    va = lab.physoff + (lab.rng.randrange(0x100000, 0x7E00000) & ~(PAGE - 1))
    _refused(lab, [(_map_line(lab.physoff, lab.random_frame(), mm.W), "MAP_ERR_HUGE",
                    "at the start of the physical-memory map (2 MiB pages)"),
                   (_map_line(va, lab.random_frame(), mm.W), "MAP_ERR_HUGE",
                    "inside a 2 MiB page of the physical-memory map"),
                   (f"unmap 0x{va:x}", "MAP_ERR_HUGE",
                    "inside a 2 MiB page of the physical-memory map")])


NON_CANONICAL = (1 << 47, (1 << 64) - (1 << 47) - PAGE)  # the first and last non-canonical pages


@pytest.mark.points(1)
def test_map_rejects_bad_arguments(lab):
    """A misaligned or non-canonical page (the boundary pages and a random one), a misaligned frame, or flags with PS or address bits give MAP_ERR_INVALID from map_to (and unmap) and change nothing."""
    lab.start()
    va, frame = lab.fresh_page(), lab.random_frame()
    wild = lab.rng.randrange(1 << 47, (1 << 64) - (1 << 47)) & ~(PAGE - 1)
    off = lab.rng.randrange(1, PAGE)
    cases = [(_map_line(va | 1, frame, mm.W), "with a page one byte past a boundary"),
             (_map_line(va | off, frame, mm.W), "with a misaligned page"),
             (_map_line(va, frame | off, mm.W), "with a misaligned frame"),
             (_map_line(va, frame, mm.W | mm.PS), "with PS in the flags"),
             (_map_line(va, frame, mm.W | 1 << lab.rng.randrange(12, 52)),
              "with an address bit in the flags")]
    cases += [(_map_line(bad, frame, mm.W), "with a non-canonical page")
              for bad in NON_CANONICAL + (wild,)]
    cases += [(f"unmap 0x{va | off:x}", "with a misaligned page"),
              (f"unmap 0x{lab.rng.choice(NON_CANONICAL + (wild,)):x}", "with a non-canonical page")]
    _refused(lab, [(line, "MAP_ERR_INVALID", why) for line, why in cases])


@pytest.mark.points(3)
def test_map_out_of_frames_changes_nothing(lab):
    """With 2 and then 1 free frames for 3 missing tables, map_to returns MAP_ERR_NOMEM, changes no table and keeps no frame."""
    lab.start()
    for keep in (2, 1):  # a new PML4 slot needs 3 tables: one short, then two
        va, frame = lab.fresh_page(), lab.random_frame()
        with Held(lab, keep) as held:
            _refused(lab, [(_map_line(va, frame, mm.W), "MAP_ERR_NOMEM",
                            f"with {keep} free frame(s) for 3 missing tables")], pool=False)
            left = held.left()
            assert left == keep, f"after the failed map_to the pool holds {left} frame(s), it had " \
                f"{keep}: a failing map_to must give back the frames it took"
        assert lab.map(va, frame, mm.W) == 0, "the same map_to failed once frames were free again"


class Held:
    """`hold KEEP` for a `with` block: the pool keeps `keep` frames; left() counts
    what the pool holds now; every frame goes back at the end."""

    def __init__(self, lab, keep):
        self.lab, self.keep = lab, keep

    def __enter__(self):
        out = self.lab.m.command(f"hold {self.keep}")
        held = re.search(r"held (\d+) frames", out)
        assert held, f"`hold` failed:\n{out}"
        self.held = int(held.group(1))
        return self

    def left(self):
        out = self.lab.m.command("hold 0")
        total = re.search(r"held (\d+) frames", out)
        assert total, f"`hold 0` failed:\n{out}"
        return int(total.group(1)) - self.held

    def __exit__(self, *exc):
        self.lab.m.command("release")


# ---- the TLB ----------------------------------------------------------------------------------

@pytest.mark.points(3)
def test_remap_reaches_new_frame_at_once(lab):
    """After a stale entry A, map_to(page, B) flushes: the very next read reaches B."""
    lab.start()
    a, b = lab.alloc(), lab.alloc()
    tok_a, tok_b = (lab.rng.getrandbits(64) | 1 for _ in range(2))
    lab.m.command(f"fill 0x{a:x} 0x{tok_a:x}")
    lab.m.command(f"fill 0x{b:x} 0x{tok_b:x}")
    for _ in range(STALE_TRIES):  # QEMU may evict the entry by chance: then try another page
        va = lab.fresh_page("kernel")
        assert lab.map(va, a, ACCESSED_DIRTY_RW) == 0, f"map_to(0x{va:x}, A) failed"
        assert lab.read(va)[va] == ("value", tok_a), "reading the page mapped to frame A did " \
            "not give A's contents"
        out = lab.m.command(f"clear 0x{va:x}")  # zero the entry behind the TLB's back
        assert "now 0" in out, f"the kit could not clear the entry:\n{out}"
        if lab.read(va)[va] == ("value", tok_a):  # the stale translation is in the TLB
            break
    else:
        raise AssertionError("kit check: QEMU never kept a stale translation, so this run cannot "
                             "test the flush (please report it)")
    assert lab.map(va, b, ACCESSED_DIRTY_RW) == 0, f"map_to(0x{va:x}, B) failed after the clear"
    got = lab.read(va)[va]
    assert lab.m.gva2gpa(va) == b, "the page table does not map the page to frame B"
    assert got == ("value", tok_b), "the read right after map_to(page, B) still reached frame A: " \
        "the TLB kept the old translation. Flush it (invlpg) after writing the entry."


@pytest.mark.points(2)
def test_unmap_then_access_faults(lab):
    """unmap returns the frame, sets its PT entry to 0 and flushes: the next read faults with CR2 = the page (QEMU's log)."""
    lab.start()
    va = lab.fresh_page()
    offset = lab.rng.randrange(0, PAGE, 8)
    a = lab.alloc()
    tok = lab.rng.getrandbits(64) | 1
    lab.m.command(f"fill 0x{a:x} 0x{tok:x}")
    assert lab.map(va, a, ACCESSED_DIRTY_RW) == 0, f"map_to(0x{va:x}, ...) failed"
    assert lab.read(va + offset)[va + offset] == ("value", tok), "the mapped page reads wrong"
    code, name, frame = lab.status(f"unmap 0x{va:x}")
    assert code == 0, f"unmap(0x{va:x}) returned {code} {name}, expected MAP_OK"
    assert frame == a, f"unmap(0x{va:x}) reported frame {frame and hex(frame)}, the page mapped 0x{a:x}"
    assert lab.m.gva2gpa(va) is None, "after unmap QEMU still translates the page"
    w = lab.walk(va)
    lvl, tbl, idx, entry = w.steps[-1]
    assert lvl == 1, f"after unmap(0x{va:x}) the walk stops at level {lvl}: unmap removed a table"
    assert entry == 0, f"after unmap(0x{va:x}) its PT entry (index {idx} of the table at " \
        f"0x{tbl:x}) holds 0x{entry:x} ({mm.flag_text(entry)}): unmap sets the whole entry to 0, " \
        "frame address and flags included"
    seen = len(lab.m.exceptions())
    r = lab.read(va + offset)[va + offset]
    assert r[0] == "fault", "the read after unmap still worked: the TLB kept the translation. " \
        "Flush the page (invlpg) after clearing its entry."
    probe = symbols.load(lab.m.elf).addr("probe_read_insn")
    pfs = [e for e in lab.m.exceptions()[seen:] if e.vector == 14 and e.rip == probe]
    assert pfs, "QEMU recorded no page fault for the read after unmap"
    assert pfs[0].cr2 == va + offset and not pfs[0].error & 1, f"QEMU recorded the fault with " \
        f"CR2=0x{pfs[0].cr2:x} err=0x{pfs[0].error:x}, expected CR2=0x{va + offset:x}, not present"
    again = lab.status(f"unmap 0x{va:x}")[0]
    assert again == status_code("MAP_ERR_UNMAPPED"), f"a second unmap(0x{va:x}) returned {again}, " \
        "expected MAP_ERR_UNMAPPED"


# ---- the demo ------------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_new_demo_writes_through_the_page(lab):
    """"New!" in the chosen colour lands in VGA memory at 0xb8000, written through the new page, whose entry is exactly 0xb8000|P|W|NX (plus A/D)."""
    lab.start()
    va = lab.fresh_page("kernel")
    attr = lab.rng.choice([a for a in range(1, 256) if a != 0x07 and a >> 4 != a & 0xF])
    code, name, _ = lab.status(f"newdemo 0x{va:x} 0x{attr:x}")
    assert code == 0, f"new_demo(0x{va:x}, 0x{attr:x}) returned {code} {name}"
    assert lab.m.gva2gpa(va) == VGA_FRAME, f"new_demo did not map 0x{va:x} to the VGA frame 0xb8000"
    screen = lab.m.read_phys(VGA_FRAME, VGA_BYTES)
    cells = b"".join(bytes([c, attr]) for c in b"New!")
    assert cells in screen, f'"New!" with attribute 0x{attr:02x} is not in VGA memory (0xb8000)'
    w = lab.walk(va)
    leaf = w.steps[-1][3]
    want = VGA_FRAME | mm.P | mm.W | mm.NX
    assert w.level == 1 and leaf & ~mm.AD == want, f"new_demo's PT entry for 0x{va:x} is " \
        f"0x{leaf:x} ({mm.flag_text(leaf)}), expected 0x{want:x} ({mm.flag_text(want)}, plus A/D): " \
        "the demo page is data, writable and never executable"
    assert leaf & mm.D, "the page's entry is not dirty: the text was not written through the new page"


# ---- demand paging ---------------------------------------------------------------------------------

@pytest.mark.points(3)
def test_demand_paging_maps_exactly_touched_pages(lab):
    """Reading random lazy addresses maps exactly those pages, once each, to distinct zeroed frames."""
    lab.start()
    npages = lab.rng.randrange(4, 8)
    pages = sorted({LAZY_BASE + lab.rng.randrange(LAZY_SIZE // PAGE) * PAGE for _ in range(npages)})
    addrs = [p + lab.rng.randrange(0, PAGE, 8) for p in pages]
    addrs.append(addrs[0] + 8 if (addrs[0] + 8) % PAGE else addrs[0] - 8)  # touch one page twice
    seen = len(lab.m.exceptions())
    res = lab.read(*addrs)
    for va in addrs:
        assert res[va] == ("value", 0), f"reading lazy address 0x{va:x} gave " + \
            (f"0x{res[va][1]:x}" if res[va][0] == "value" else "a page fault") + \
            ", expected 0 from a fresh zeroed page"
    mem = mm.PhysCache(lab.m)
    lazy = mm.leaves_in(mem, lab.cr3, LAZY_BASE, LAZY_BASE + LAZY_SIZE, lab.rules.ram_top)
    mapped = {va for va, *_ in lazy}
    assert mapped == set(pages), f"the lazy region maps {sorted(hex(v) for v in mapped)}, " \
        f"the pages touched were {[hex(p) for p in pages]}"
    frames = [pa for _, _, pa, _ in lazy]
    assert len(set(frames)) == len(frames), "two lazy pages share a frame"
    for va, size, pa, path in lazy:
        w = all(e & mm.W for e in path)
        u = all(e & mm.U for e in path)
        nx = any(e & mm.NX for e in path)
        assert size == PAGE and w and nx and not u, \
            f"lazy page 0x{va:x} is not a 4 KiB kernel page with LAZY_FLAGS (W|NX)"
        why = lab.rules.problem(pa)
        assert why is None, f"lazy page 0x{va:x} got frame 0x{pa:x}: {why}"
        assert mem.read(pa, PAGE) == bytes(PAGE), \
            f"the frame 0x{pa:x} of lazy page 0x{va:x} is not zeroed"
    faults = [e for e in lab.m.exceptions()[seen:] if e.vector == 14]
    per_page = {p: sum(1 for e in faults if e.cr2 is not None and e.cr2 & ~(PAGE - 1) == p)
                for p in pages}
    bad = {hex(p): n for p, n in per_page.items() if n != 1}
    assert not bad, f"each lazy page should fault exactly once, QEMU counted {bad}"


@pytest.mark.points(2)
def test_demand_paging_out_of_frames_keeps_nothing(lab):
    """With one free frame and a lazy page whose PT is missing, demand_map fails: the read faults, no table changes, the pool keeps its one frame; once frames are back the same read gives 0."""
    lab.start()
    mem = mm.PhysCache(lab.m)
    for _ in range(64):  # a page under a PD entry nobody touched: map_to needs a table
        va = LAZY_BASE + lab.rng.randrange(LAZY_SIZE // PAGE) * PAGE + lab.rng.randrange(0, PAGE, 8)
        if lab.walk(va, mem).level >= 2:
            break
    else:
        raise AssertionError("kit check: no untouched 2 MiB block left in the lazy region")
    before = lab.snapshot()
    with Held(lab, 1) as held:
        r = lab.read(va)[va]
        assert r[0] == "fault", f"reading lazy 0x{va:x} with one free frame gave 0x{r[1]:x}: " \
            "demand_map needs a frame for the page and one for its PT, so map_to must fail"
        left = held.left()
        after = lab.snapshot()
        changed = paging.describe_changes(before, after)
        assert not changed, f"demand_map(0x{va:x}) failed but the page tables changed: {changed}"
        assert left == 1, f"demand_map(0x{va:x}) failed (map_to found no frame for a table) and " \
            f"the pool went from 1 frame to {left}: when map_to fails, frame_free the page's frame " \
            "before returning the error"
    got = lab.read(va)[va]
    assert got == ("value", 0), f"with frames free again, reading lazy 0x{va:x} gave " + \
        (f"0x{got[1]:x}" if got[0] == "value" else "a page fault") + ", expected 0"
