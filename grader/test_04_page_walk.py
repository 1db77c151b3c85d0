"""Lab 4, Part B: the page walk in the kernel.

One boot ("walk", through GRUB) gets a random physical-memory offset, six
fixture mappings (Lab 3's fixtures.c: two of each page size, mixed rights, at
random free PML4 slots) and a non-present PML4 entry holding leftover bits. The grader picks addresses across the kernel image,
the physical map, the VGA buffer, the fixtures, holes at every level and
non-canonical addresses, types them all to `translate` in one go, then pauses
the machine and checks every line against QEMU's gva2gpa and the grader's own
walk of the tables read from physical memory (harness/paging.py). A second
boot ("split") checks page_offset() and is_canonical() through `split`.
"""

import pytest

from harness import KernelError, config, paging, symbols
from models import cr3 as layout_model
from models import page_tables as model

LAB = "04-page-walk"
KERNEL_VMA = 0xFFFFFFFF80000000
PER_LINE = 12          # addresses per monitor line (16 words, 256 characters at most)
RAM = 128 << 20        # the harness boots -m 128M; the physical map covers it
PER_GROUP = 5          # addresses per group: typing costs ~1 ms a character
SIZES = {"4K": 1 << 12, "2M": 1 << 21, "1G": 1 << 30}


# ---- the per-boot layout ----------------------------------------------------------

def random_fixtures(rng, used):
    """Two fixtures of each page size, each in a free PML4 slot. Three have a
    leaf that grants everything under upper entries that withhold one right
    each (W, U and X once each, so the upper levels must count); three have
    random leaf and upper rights. The PAT bit is set on the first three and
    on half of the others (bit 12 of a huge leaf: not part of its frame)."""
    withheld = rng.sample("wux", 3)
    out = []
    plan = [1 << 12, 1 << 21, 1 << 30]
    rng.shuffle(plan)
    for i, size in enumerate(plan + [1 << 12, 1 << 21, 1 << 30]):
        va = layout_model.make_va(layout_model.free_slot(rng, used),
                                  rng.randrange(0, 1 << 39, size))
        if i < 3:
            leaf = "wuxp"
            upper = "".join(c for c in "wux" if c != withheld[i] and rng.random() < 0.8)
        else:
            leaf = layout_model.random_rights(rng)
            upper = "".join(c for c in "wux" if rng.random() < 0.6)
        out.append(layout_model.Fixture(f"fix{i}", va, layout_model.random_fixture_pa(rng, size),
                                        size, leaf, upper))
    return out


class Layout:
    def __init__(self, rng):
        used = set(layout_model.RESERVED_SLOTS)
        self.physoff = layout_model.random_physoff(rng)
        used.add(layout_model.slot(self.physoff))
        self.fixtures = random_fixtures(rng, used)
        # A non-present PML4 entry full of leftovers: an address in a usable
        # frame, flag bits, P clear. A walk must test P, not "entry != 0".
        self.leftover_slot = layout_model.free_slot(rng, used)
        leftover = rng.randrange(1 << 20, RAM, 1 << 12) | (rng.getrandbits(11) << 1) | 1 << 63
        self.used = used
        self.params = dict(seed=rng.getrandbits(32), physoff=self.physoff,
                           leftover=f"{self.leftover_slot}:0x{leftover:x}",
                           **{f.name: f.param() for f in self.fixtures})


# ---- choosing addresses ------------------------------------------------------------

def elf():
    return symbols.load(str(config.kernel_elf(LAB)))


def image_addresses(rng):
    """One address in each section of the kernel image, then random ones."""
    s = elf()
    bounds = [("__text_start", "__text_end"), ("__user_text_start", "__user_text_end"),
              ("__rodata_start", "__rodata_end"), ("__user_data_start", "__user_data_end"),
              ("__data_start", "__kernel_end")]
    out = [rng.randrange(s.addr(a), s.addr(b)) for a, b in bounds if s.addr(b) > s.addr(a)]
    while len(out) < PER_GROUP + 2:
        out.append(rng.randrange(s.addr("__kernel_start"), s.addr("__kernel_end")))
    return out


def hole_candidates(rng, lay, level):
    """Addresses likely to stop the walk at `level` (the model has the last word)."""
    fix = lay.fixtures
    if level == 4:
        return [layout_model.make_va(lay.leftover_slot, rng.getrandbits(39))] + \
            [layout_model.make_va(layout_model.free_slot(rng, set(lay.used)), rng.getrandbits(39))
             for _ in range(PER_GROUP - 2)]
    if level == 3:
        out = [f.va ^ (rng.randrange(1, 512) << 30) ^ rng.getrandbits(30) for f in fix]
        out.append(lay.physoff + rng.randrange(1 << 30, 8 << 30))
        return out + [KERNEL_VMA - (rng.randrange(1, 64) << 30) + rng.getrandbits(30)]
    if level == 2:
        out = [f.va ^ (rng.randrange(1, 512) << 21) ^ rng.getrandbits(21)
               for f in fix if f.size < (1 << 30)]
        out.append(lay.physoff + rng.randrange(RAM, 1 << 30))
        return out + [KERNEL_VMA + (rng.randrange(8, 512) << 21) + rng.getrandbits(21)]
    s = elf()
    out = [f.va ^ (rng.randrange(1, 512) << 12) | rng.getrandbits(12)
           for f in fix if f.size == 1 << 12 for _ in range(3)]
    return out + [rng.getrandbits(12), s.addr("kstack_guard") + rng.getrandbits(12)]


def noncanonical_addresses(rng):
    out = [1 << 47, (0xFFFF7FFFFFFFF000 | rng.getrandbits(12))]
    while len(out) < PER_GROUP - 1:
        va = rng.getrandbits(64)
        if not paging.canonical(va):
            out.append(va)
    return out


def fixture_offsets(rng, size):
    """Two random offsets into a page of `size`; in a huge page one has bit 12 clear and
    one set, so a frame that keeps the leaf's PAT bit (bit 12) shows on every run."""
    a, b = rng.randrange(size), rng.randrange(size)
    if size > 1 << 12:
        a, b = a & ~(1 << 12), b | 1 << 12
    return [a, b]


# ---- the shared boots ----------------------------------------------------------------

def table_reader(m):
    """read_u64(pa) over physical memory, the kernel image (where the core's and
    this lab's tables live) fetched in one read."""
    return m.image_reader()


def batched(command, vas):
    return [f"{command} " + " ".join(hex(v) for v in vas[i:i + PER_LINE])
            for i in range(0, len(vas), PER_LINE)]


class Session:
    """The module's two boots and everything read from them, computed once."""

    def __init__(self, pool):
        self.rng = config.new_rng(LAB)
        self.seed = self.rng.seed_value
        self.lay = Layout(self.rng)
        pool.start_many([("walk", LAB, dict(via="grub", **self.lay.params)),
                         ("split", LAB, dict(seed=self.rng.getrandbits(32)))])
        self.pool = pool
        self.cache = {}

    def why(self):
        return f"(seed {self.seed}, physoff 0x{self.lay.physoff:x})"

    def once(self, key, fn):
        return self.pool.once(key, fn)

    # -- the walk boot
    def walk(self):
        return self.once("walk", self._walk)

    def _walk(self):
        m = self.pool["walk"]
        m.wait_prompt()
        m.hmp("stop")
        cr3 = m.regs().cr3
        read = table_reader(m)
        groups = self._groups(read, cr3)
        vas = [va for g in groups.values() for va in g]
        self.rng.shuffle(vas)
        m.hmp("cont")
        text = "\n".join(m.commands(batched("translate", vas)))
        m.hmp("stop")
        printed = {}
        for line in text.splitlines():
            t = model.parse_translation(line)
            if t:
                printed[t.va] = t
        truth = {va: (paging.walk(read, cr3, va), m.gva2gpa(va)) for va in vas}
        return groups, printed, truth, text

    def _groups(self, read, cr3):
        rng, lay = self.rng, self.lay
        walk = lambda va: paging.walk(read, cr3, va)  # noqa: E731
        g = {"image": image_addresses(rng),
             "physmap": [lay.physoff + rng.randrange(RAM) for _ in range(PER_GROUP)],
             "vga": [0xB8000 + rng.randrange(0x8000) for _ in range(3)]}
        for name, size in SIZES.items():
            g[f"fix{name}"] = [f.va + off for f in lay.fixtures if f.size == size
                               for off in fixture_offsets(rng, size)]
        for level in (4, 3, 2, 1):
            cands = [va for va in hole_candidates(rng, lay, level)
                     if paging.canonical(va) and not walk(va).mapped and walk(va).level == level]
            g[f"hole{level}"] = cands[:PER_GROUP - 1]
        g["noncanonical"] = noncanonical_addresses(rng)
        return g

    # -- the split boot
    def split(self):
        return self.once("split", self._split)

    def _split(self):
        m = self.pool["split"]
        m.wait_prompt()
        vas = [self.rng.getrandbits(64) for _ in range(6)]
        vas += [paging.sign_extend(self.rng.getrandbits(48)) for _ in range(8)]
        vas += [0, 1 << 47, (1 << 47) - 1, 0xFFFF800000000000, 0xFFFFFFFFFFFFFFFF]
        text = "\n".join(m.commands(batched("split", vas)))
        got = {}
        for line in text.splitlines():
            s = model.parse_split(line)
            if s:
                got[s[0]] = s
        return vas, got


@pytest.fixture(scope="module")
def session(machine_pool):
    return Session(machine_pool)


# ---- comparing -------------------------------------------------------------------------

def describe(t):
    if t is None:
        return "no line"
    if t.status != "ok":
        return t.status + (f" at level {t.level}" if t.status == "not-mapped" else "")
    return f"pa 0x{t.pa:x}, {t.page_size >> 10} KiB page, leaf level {t.level}"


def expected_text(w):
    if not w.canonical:
        return "non-canonical"
    if not w.mapped:
        return f"not-mapped at level {w.level} ({paging.LEVEL_NAMES[w.level]} entry not present)"
    return f"pa 0x{w.pa:x}, {w.page_size >> 10} KiB page, leaf level {w.level}"


def check_where(session, group, minimum=1):
    """Every address of the group: status, physical address, page size and level
    equal the grader's walk; a mapped one also equals QEMU's gva2gpa."""
    groups, printed, truth, text = session.walk()
    vas = groups[group]
    assert len(vas) >= minimum, (
        f"expected the fixtures fix0..fix5 in the page tables, but the grader's walk finds too "
        f"few {group} addresses: the kernel did not place Lab 3's fixtures {session.why()}")
    for va in vas:
        w, qemu = truth[va]
        t = printed.get(va)
        assert w.pa == qemu, (f"grader and QEMU disagree on 0x{va:x}: walk {w.pa}, gva2gpa {qemu} "
                              f"{session.why()}")
        msg = (f"translate 0x{va:x}: printed {describe(t)}; expected {expected_text(w)} "
               f"{session.why()}{where_cause(va, w, t)}")
        assert t is not None, msg + "\n(expected a line '0x... -> ...' for this address, " \
            "the kernel printed none; its output ended with:\n" + text[-600:] + ")"
        if not w.canonical:
            assert t.status == "non-canonical", msg
        elif not w.mapped:
            assert (t.status, t.level) == ("not-mapped", w.level), msg
        else:
            assert (t.status, t.pa, t.page_size, t.level) == ("ok", w.pa, w.page_size, w.level), msg


def where_cause(va, w, t):
    """The likely mistake behind a translation that differs from the grader's walk w,
    inferred from how the printed line t differs from it."""
    if t is None:
        return ""
    if not w.canonical and t.status == "not-mapped":
        return ("\n  a non-canonical address came back not-mapped"
                + (" at level 0, before any entry was read: it looks like the non-canonical case "
                   "sets TR_NOT_MAPPED instead of TR_NONCANONICAL" if t.level == 0 else
                   f" at level {t.level}: it looks like translate walked it instead of refusing "
                   "it first with is_canonical"))
    if not w.canonical and t.status == "ok":
        return ("\n  a non-canonical address was translated: it looks like translate walked it "
                "instead of refusing it first with is_canonical")
    if not (w.mapped and t.status == "ok") or t.pa == w.pa:
        return ""
    size = w.page_size
    name = {1 << 21: "2 MiB", 1 << 30: "1 GiB"}.get(size)
    if name and t.pa == (w.pa & ~(size - 1)) | (va & 0xFFF):
        bits = size.bit_length() - 1
        return (f"\n  only va's low 12 bits were added: it looks like the offset was masked as for a "
                f"4 KiB page; a {name} page's offset is va's low {bits} bits (va & ({name} - 1))")
    if name and t.pa == w.pa | 1 << 12:
        return (f"\n  bit 12 is set in yours: in a {name} leaf bit 12 is PAT, not part of the "
                f"frame; it looks like the frame was masked with PTE_ADDR_MASK alone, not aligned "
                f"down to the page size")
    if t.pa == w.pa & ~0xFFF:
        return "\n  yours is the frame without va's offset: it looks like the offset was not added"
    return ""


def rights_variants():
    """(the mistake, rights(entries)) for the classic ways to combine W, U and NX
    over the entries of a walk (upper levels first, the leaf last)."""
    W, U, NX = paging.W, paging.U, paging.NX
    allw = lambda es, b: all(e & b for e in es)  # noqa: E731
    anyw = lambda es, b: any(e & b for e in es)  # noqa: E731
    return [
        ("W came from the leaf entry alone: W must be ANDed over every level",
         lambda es: (bool(es[-1] & W), allw(es, U), anyw(es, NX))),
        ("U came from the leaf entry alone: U must be ANDed over every level",
         lambda es: (allw(es, W), bool(es[-1] & U), anyw(es, NX))),
        ("W and U came from the leaf entry alone: both must be ANDed over every level",
         lambda es: (bool(es[-1] & W), bool(es[-1] & U), anyw(es, NX))),
        ("NX came from the leaf entry alone: NX at any level forbids execution (OR it in)",
         lambda es: (allw(es, W), allw(es, U), bool(es[-1] & NX))),
        ("W was granted when any level has it (|= instead of &=)",
         lambda es: (anyw(es, W), allw(es, U), anyw(es, NX))),
        ("NX was set only when every level has it (&= instead of |=)",
         lambda es: (allw(es, W), allw(es, U), allw(es, NX))),
        ("W and U started false, so ANDing never grants them (start them true)",
         lambda es: (False, False, anyw(es, NX))),
    ]


def observed_rights(mapped, printed, truth):
    """(the walk's entries, printed (w, u, nx)) of each mapped address translated ok."""
    out = []
    for va in mapped:
        t = printed.get(va)
        if t and t.status == "ok":
            out.append(([e for *_, e in truth[va][0].steps], (t.writable, t.user, t.nx)))
    return out


def rights_cause(pairs):
    """'; it looks like <mistake>' when exactly one of rights_variants gives the printed
    (w, u, nx) for every mapped address: pairs of (the walk's entries, printed rights)."""
    fits = [why for why, fn in rights_variants() if all(fn(es) == got for es, got in pairs)]
    return f"\n  it looks like {fits[0]}" if len(fits) == 1 else ""


# ---- the tests -----------------------------------------------------------------------------

@pytest.mark.points(2)
def test_split_offset_and_canonical(session):
    """`split` shows the four indices, the page offset and the canonical check of random addresses."""
    vas, got = session.split()
    for va in vas:
        s = got.get(va)
        assert s is not None, (f"split 0x{va:x}: expected a line '0x{va:x} -> l4=.. l3=.. l2=.. "
                               "l1=.. offset=0x.. canonical=..', the kernel printed none")
        _, idx, offset, canon = s
        assert idx == [paging.index(va, lvl) for lvl in (4, 3, 2, 1)], \
            f"split 0x{va:x}: indices {idx}, expected {[paging.index(va, l) for l in (4, 3, 2, 1)]}"
        assert offset == va & 0xFFF, \
            f"page_offset(0x{va:x}) = 0x{offset:x}, expected 0x{va & 0xFFF:x} (bits 0..11)"
        assert canon == paging.canonical(va), (
            f"is_canonical(0x{va:x}) = {canon}: bits 48..63 {'do' if paging.canonical(va) else 'do not'}"
            " all copy bit 47")


@pytest.mark.points(3)
def test_translate_kernel_image(session):
    """Addresses in every section of the kernel image translate to the frames QEMU finds (4 KiB pages)."""
    check_where(session, "image", 5)


@pytest.mark.points(3)
def test_translate_physical_map_2m(session):
    """Addresses in the physical-memory map at this boot's offset reach phys_offset - va through 2 MiB pages."""
    check_where(session, "physmap", 4)


@pytest.mark.points(2)
def test_translate_vga_buffer(session):
    """The VGA text buffer at 0xb8000 (identity map, 4 KiB pages) translates to itself."""
    check_where(session, "vga", 2)


@pytest.mark.points(2)
def test_translate_fixture_4k(session):
    """4 KiB fixture pages at random addresses translate to their random frames at level 1."""
    check_where(session, "fix4K", 4)


@pytest.mark.points(2)
def test_translate_huge_2m_page(session):
    """2 MiB fixture pages end the walk at the PD (PS set) with a 21-bit offset, PAT bit masked."""
    check_where(session, "fix2M", 4)


@pytest.mark.points(2)
def test_translate_huge_1g_page(session):
    """1 GiB fixture pages end the walk at the PDPT (PS set) with a 30-bit offset, PAT bit masked."""
    check_where(session, "fix1G", 4)


@pytest.mark.points(4)
def test_translate_effective_permissions(session):
    """Writable and user only when every level grants them, no-execute when any level sets NX."""
    groups, printed, truth, _ = session.walk()
    mapped = [va for g in ("image", "physmap", "vga", "fix4K", "fix2M", "fix1G")
              for va in groups[g] if truth[va][0].mapped]
    kinds = {(truth[va][0].writable, truth[va][0].user, truth[va][0].nx) for va in mapped}
    assert len(kinds) >= 3, f"expected at least 3 kinds of rights among the mapped addresses, found {kinds} {session.why()}"
    for va in mapped:
        w, t = truth[va][0], printed.get(va)
        want = (w.writable, w.user, w.nx)
        got = (t.writable, t.user, t.nx) if t and t.status == "ok" else None
        levels = ", ".join(f"{paging.LEVEL_NAMES[lvl]} {' '.join(paging.flag_names(e)) or '-'}"
                           for lvl, _, _, e in w.steps)
        assert got == want, (
            f"translate 0x{va:x}: (w, u, nx) = {got if got else describe(t)}, expected {want}; "
            f"the entries: {levels} "
            f"{session.why()}" + rights_cause(observed_rights(mapped, printed, truth)))


@pytest.mark.points(1)
def test_translate_hole_pml4(session):
    """An empty PML4 slot (one holding leftover bits without P) stops the walk at level 4."""
    check_where(session, "hole4", 3)


@pytest.mark.points(1)
def test_translate_hole_pdpt(session):
    """An empty PDPT entry under a present PML4 entry stops the walk at level 3."""
    check_where(session, "hole3", 3)


@pytest.mark.points(1)
def test_translate_hole_pd(session):
    """An empty PD entry under present upper levels stops the walk at level 2."""
    check_where(session, "hole2", 3)


@pytest.mark.points(1)
def test_translate_hole_pt(session):
    """An empty PT entry (page 0, the stack guard, beside a 4 KiB fixture) stops the walk at level 1."""
    check_where(session, "hole1", 3)


@pytest.mark.points(2)
def test_translate_noncanonical(session):
    """An address whose bits 48..63 do not copy bit 47 is reported non-canonical, with no walk."""
    check_where(session, "noncanonical", 4)
