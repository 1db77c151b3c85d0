"""Lab 3: CR3, the physical-memory offset mapping, entries, ptdump, recursion.

Every boot gets a random physical offset (physoff=), random CR3 cache bits
(cr3bits=) and fixture mappings at random addresses (fix0..fix3=), so no
output can be memorised. The kernel's lines are compared with QEMU's registers,
QEMU's `info mem` and gva2gpa, and the grader's own walk of the tables read
from physical memory (models/cr3.py, harness/paging.py).

Boots, started together: "cr3", one per fatal check, "main" (shared by the
non-fatal checks, the most demanding last) and "rec" (the recursive entry,
which changes the address space).

Commands of one check are typed in one go (run_commands): the serial port
answers each separately typed line only after ~50 ms.
"""
import dataclasses
import re

import pytest

from harness import KernelError, config, paging, symbols
from models import cr3 as model

LAB = "03-cr3"
P2V_SAMPLES = 4
KERNEL_VMA = 0xFFFFFFFF80000000
MAPPING_END = 128 << 20  # ALIGN_UP(phys_top, 2 MiB) under the harness's 128 MiB of RAM


class Layout:
    """What the grader chose for one boot: its parameters and free slots."""

    def __init__(self, rng, ignored=False):
        self.used = set(model.RESERVED_SLOTS)
        self.physoff = model.random_physoff(rng)
        self.used.add(model.slot(self.physoff))
        self.fixtures = model.random_fixtures(rng, self.used)
        self.cr3bits = rng.choice([model.paging.PWT, model.paging.PCD, model.CR3_FLAGS])
        if ignored:  # bits 0-2 and 5-11, which the CPU ignores without PCIDs: not flags
            self.cr3bits |= (rng.randrange(1, 1 << 12) & ~model.CR3_FLAGS) or 0x1
        self.params = dict(seed=rng.getrandbits(32), physoff=self.physoff, cr3bits=self.cr3bits,
                           **{f.name: f.param() for f in self.fixtures})


class Boots:
    """The module's machines. All boot together; each then waits paused (QEMU's
    `stop`), so only the machine a test talks to runs: an idle kernel polls
    the serial port and would otherwise take a core from the others."""

    NAMES = ("cr3", "slot_in_use", "p2v_beyond", "main", "rec")
    # "cr3" serves test_cr3_matches_qemu, then test_recursive_install_refuses_slot_512 ends it

    def __init__(self, pool):
        self.pool = pool
        self.rng = config.new_rng(LAB)
        self.seed = self.rng.seed_value
        self.layouts = {}
        for name in self.NAMES:
            self.layouts[name] = Layout(self.rng, ignored=name == "cr3")
        # the shared boot goes through GRUB, as students run it; the rest PVH
        pool.start_many([(name, LAB, dict(via="grub" if name == "main" else "pvh",
                                          **self.layouts[name].params))
                         for name in self.NAMES])
        self.cache = {}
        self.errors = {}
        self.running = set()
        for name in self.NAMES:
            try:
                pool[name].wait_prompt()
                self._hmp(name, "stop")
            except KernelError as e:
                self.errors[name] = e

    def _hmp(self, name, cmd):
        """An HMP command; a QEMU that has gone away becomes the harness's verdict."""
        m = self.pool[name]
        try:
            return m.hmp(cmd)
        except OSError:
            self.errors[name] = m.wait_exit(timeout=2)
            raise self.errors[name] from None

    def ready(self, name):
        """The machine `name`, running at its prompt, for serial commands."""
        if name in self.errors:
            raise self.errors[name]
        if name not in self.running:
            self._hmp(name, "cont")
            self.running.add(name)
        return self.pool[name]

    def inspect(self, name):
        """The machine `name`, paused, for QEMU's view (fast while paused)."""
        if name in self.errors:
            raise self.errors[name]
        if name in self.running:
            self.running.discard(name)
            self._hmp(name, "stop")
        return self.pool[name]

    def park(self):
        for name in list(self.running):
            try:
                self.inspect(name)
            except AssertionError:  # KernelError: the test that needs it reports it
                pass

    def once(self, key, fn):
        return self.pool.once(key, fn)

    def why(self, name):
        lay = self.layouts[name]
        return f"(seed {self.seed}, physoff 0x{lay.physoff:x})"


@pytest.fixture(scope="module")
def boots(machine_pool):
    return Boots(machine_pool)


@pytest.fixture(autouse=True)
def _park_after(boots):
    yield
    boots.park()


def run_commands(m, lines):
    """Type all lines at once; return what each printed (without its echo)."""
    m.send("\r".join(lines))
    outs = []
    for line in lines:
        start = m.pos
        end = m.expect(re.escape("lab> "), what=f"the prompt after `{line}`")
        first, _, rest = m.text[start:end.start()].partition("\n")
        outs.append(rest if first.strip() == line.strip() else first + "\n" + rest)
    return outs


def run_fatal(m, line):
    """Run a command that should stop the kernel; return (stopped, output).
    Returns as soon as the kernel stops or shows its prompt again."""
    start = m.pos
    m.send(line)
    end = m.expect(r"kit: stopped|lab> ", allow_stop=True, what=f"the end of `{line}`")
    first, _, rest = m.text[start:end.start()].partition("\n")
    return end.group(0) != "lab> ", rest if first.strip() == line.strip() else first + "\n" + rest


def cr3_of(m):
    return m.regs().cr3


def elf_symbol(name):
    return symbols.load(str(config.kernel_elf(LAB))).addr(name)


def table_reader(m):
    """read_u64(pa) over physical memory, the kernel image (where the core's and
    this lab's tables live) fetched in one read."""
    return m.image_reader()


def check_chain(m, printed, va, read_u64, cr3, where):
    """Compare `walk` lines for va with the grader's walk of physical memory."""
    expect = paging.walk(read_u64, cr3, va).steps
    got = [(lvl, t, i, raw) for lvl, t, i, raw, _ in printed]
    cause = chain_cause(got, expect)
    assert len(got) == len(expect), (
        f"walk 0x{va:x} printed {len(got)} levels, expected {len(expect)} "
        f"(a walk stops after a leaf or a non-present entry) {where}{cause}")
    for (lvl, t, i, raw, text), (elvl, et, ei, eraw) in zip(printed, expect):
        name = model.paging.LEVEL_NAMES[elvl]
        assert (lvl, t, i) == (elvl, et, ei), (
            f"walk 0x{va:x}: printed {model.paging.LEVEL_NAMES.get(lvl, lvl)} table 0x{t:x}[{i}], "
            f"expected {name} table 0x{et:x}[{ei}] {where}{cause}")
        assert model.same_entry(raw, eraw), (
            f"walk 0x{va:x}: {name}[{ei}] printed 0x{raw:016x}, expected 0x{eraw:016x} "
            f"from physical memory {where}")
        assert text == model.decode(raw, lvl), (
            f"walk 0x{va:x}: {name} entry 0x{raw:016x} printed as '{text}', "
            f"expected '{model.decode(raw, lvl)}' {where}" + text_cause(raw, lvl, text))


def chain_cause(got, expect):
    """The likely mistake behind a `walk` chain that differs from the grader's walk
    (steps (level, table, index, raw)): the first table address that is the
    previous entry with its flag bits still in, or a chain that goes on past a huge
    leaf (PS set in a PDPT or PD entry) or stops at an entry the grader walks through."""
    for n, ((lvl, t, _, _), (elvl, et, _, _)) in enumerate(zip(got, expect)):
        if t != et and n and t & paging.ADDR_MASK == et and t == got[n - 1][3] & ~paging.NX:
            return (f"\n  the {model.paging.LEVEL_NAMES[elvl]} table address 0x{t:x} is the "
                    f"{model.paging.LEVEL_NAMES[elvl + 1]} entry whole (flag bits 0x{t & 0xFFF:x} "
                    f"still in): it looks like the entry was followed without masking it with "
                    f"pte_addr() (PTE_ADDR_MASK)")
        if t != et:
            return ""
    if len(got) > len(expect) and expect:
        lvl, _, _, raw = expect[-1]
        if raw & paging.P and lvl in (2, 3) and raw & paging.PS:
            size = "1 GiB" if lvl == 3 else "2 MiB"
            return (f"\n  the grader's walk ends at the {model.paging.LEVEL_NAMES[lvl]} entry "
                    f"0x{raw:016x}, a {size} leaf (PS set), and yours went on: it looks like "
                    f"pte_is_leaf does not take PS at the {model.paging.LEVEL_NAMES[lvl]} level")
    if len(got) < len(expect) and got:
        lvl, _, _, raw = got[-1]
        if raw & paging.P:
            return (f"\n  yours stopped at the present {model.paging.LEVEL_NAMES[lvl]} entry "
                    f"0x{raw:016x}, which the grader walks through: it looks like pte_is_leaf "
                    + ("wants PS in a PT entry, where every present entry is a leaf"
                       if lvl == 1 else f"takes it for a leaf at the {model.paging.LEVEL_NAMES[lvl]} level"))
    return ""


def text_cause(raw, lvl, text):
    """The likely mistake behind an entry printed wrong, when the text is exactly what
    naming bit 7 PS in a PT entry (where it is PAT) gives."""
    want = model.decode(raw, lvl)
    if lvl == 1 and raw & paging.PS and text == want.replace(" PAT", " PS"):
        return ("\n  bit 7 of a PT entry is PAT, not PS (a PT entry is always a leaf, PS exists "
                "only in PDPT and PD entries): it looks like pte_print names bit 7 PS at every level")
    return ""


def rights_variants(read_u64, cr3, leaves):
    """(the mistake, the ranges it gives) for ptdump's classic rights mistakes,
    from the grader's own walk of each leaf's chain of entries."""
    chains = [paging.walk(read_u64, cr3, l.va).steps for l in leaves]

    def ranges(rights):
        return model.expected_ranges([dataclasses.replace(l, **rights(l, [e for *_, e in c]))
                                      for l, c in zip(leaves, chains)])
    every = lambda es, bit: all(e & bit for e in es)  # noqa: E731
    return [
        ("W and U were taken from the leaf entry alone: the rights of the upper levels were "
         "not ANDed in (a page is writable or user only if every level says so)",
         ranges(lambda l, es: dict(writable=bool(es[-1] & paging.W), user=bool(es[-1] & paging.U)))),
        ("NX was taken from the leaf entry alone: NX at any level forbids execution (OR it in)",
         ranges(lambda l, es: dict(nx=bool(es[-1] & paging.NX)))),
        ("NX was set only when every level has it: NX at any level forbids execution (OR, not AND)",
         ranges(lambda l, es: dict(nx=every(es, paging.NX)))),
    ]


def rights_cause(m, got, project=lambda rs: rs):
    """'; it looks like <mistake>' when ptdump's ranges (after `project`) are exactly
    what one of rights_variants gives, else ''."""
    read_u64, cr3 = table_reader(m), cr3_of(m)
    leaves = paging.leaves(read_u64, cr3)
    for why, ranges in rights_variants(read_u64, cr3, leaves):
        if project(ranges) == project(got):
            return f"\n  it looks like {why}"
    return ""


def offset_cause(boots, name):
    """Why boot `name` stopped on a page fault, when QEMU's record shows it reading a
    physical address as a pointer: CR2 lies in RAM, unmapped there, and the
    physical-memory offset mapping reaches it (QEMU's gva2gpa)."""
    m = boots.pool[name]
    try:
        pf = next((e for e in m.exceptions() if e.vector == 14 and e.cr2 is not None), None)
        if pf is None or pf.cr2 >= MAPPING_END:
            return ""
        off, cr3 = boots.layouts[name].physoff, m.regs().cr3
        if m.gva2gpa(pf.cr2) is not None or m.gva2gpa(off + pf.cr2) != pf.cr2:
            return ""
    except OSError:  # QEMU has gone: nothing more to read
        return ""
    what = (" (the PML4's own frame, from CR3)" if pf.cr2 & paging.ADDR_MASK == cr3 & paging.ADDR_MASK
            else "")
    return (f"\n  QEMU's record: a page fault at CR2 0x{pf.cr2:x}, a physical address{what} read as "
            f"if it were virtual; this boot maps it at 0x{off + pf.cr2:x}: it looks like "
            f"phys_to_virt returned pa itself, without adding the physical-memory offset "
            f"(boot_info.phys_offset)")


# ---- CR3, and the two fatal checks (their machines then stay stopped) -----------

@pytest.mark.points(4)
def test_cr3_matches_qemu(boots):
    """The PML4 address and PWT/PCD bits printed by `cr3` equal QEMU's CR3."""
    got = model.parse_cr3(boots.ready("cr3").command("cr3"))
    cr3 = cr3_of(boots.inspect("cr3"))
    assert got, "`cr3` did not print the expected line 'cr3 pml4 0x... flags 0x...'"
    assert got[0] == cr3 & paging.ADDR_MASK, (
        f"cr3_pml4() = 0x{got[0]:x}, expected 0x{cr3 & paging.ADDR_MASK:x} from QEMU's CR3 "
        f"0x{cr3:x} (bits 12..51) "
        f"{boots.why('cr3')}")
    assert got[1] == cr3 & model.CR3_FLAGS, (
        f"cr3_flags() = 0x{got[1]:x}, expected 0x{cr3 & model.CR3_FLAGS:x}: the PWT/PCD bits of "
        f"QEMU's CR3 0x{cr3:x} "
        f"{boots.why('cr3')}")


@pytest.mark.points(3)
def test_recursive_install_refuses_used_slot(boots):
    """recursive_install on a slot already in use panics and leaves the entry unchanged."""
    lay = boots.layouts["slot_in_use"]
    s = boots.rng.choice([model.slot(lay.physoff)] + [model.slot(f.va) for f in lay.fixtures])
    m = boots.inspect("slot_in_use")
    entry_pa = (cr3_of(m) & paging.ADDR_MASK) + 8 * s
    before = m.phys_reader()(entry_pa)
    stopped, out = run_fatal(boots.ready("slot_in_use"), f"recursive {s}")
    after = boots.inspect("slot_in_use").phys_reader()(entry_pa)
    assert stopped, (f"`recursive {s}` on a slot in use returned ({out.strip()[-200:]!r}); "
                     "expected recursive_install to panic")
    assert "PANIC" in out and "recursive_install" in out, (
        f"`recursive {s}` on a slot in use: expected a panic in recursive_install; printed: "
        f"{out.strip()[-300:]}")
    boots.inspect("slot_in_use").assert_panicked_in("recursive_install")
    assert model.same_entry(before, after), (
        f"PML4[{s}] changed before the panic: {paging.entry_text(before)} -> "
        f"{paging.entry_text(after)}; expected it untouched")


@pytest.mark.points(3)
def test_phys_to_virt_panics_beyond_mapping(boots):
    """phys_to_virt of the first address past the physical-memory mapping panics instead of faulting."""
    pa = MAPPING_END  # the boundary itself; test_phys_to_virt_matches_gva2gpa reads just below it
    stopped, out = run_fatal(boots.ready("p2v_beyond"), f"p2v 0x{pa:x}")
    m = boots.inspect("p2v_beyond")
    assert stopped, (f"p2v 0x{pa:x} (the end of the 128 MiB mapping) returned {out.strip()[-200:]!r}: "
                     "expected phys_to_virt to panic from the mapping's end on")
    faults = [e for e in m.exceptions() if e.vector == 14]
    assert not faults, (f"p2v 0x{pa:x} page-faulted at 0x{faults[0].cr2:x}: expected "
                        "phys_to_virt to check that pa lies inside the mapping and panic")
    assert "PANIC" in out and "phys_to_virt" in out, (
        f"p2v 0x{pa:x} (the end of the 128 MiB mapping): expected a panic from phys_to_virt; "
        f"printed: {out.strip()[-300:]}")
    m.assert_panicked_in("phys_to_virt")


@pytest.mark.points(3)
def test_recursive_install_refuses_slot_512(boots):
    """recursive_install(512 or above) panics, writing neither the PML4 nor the page after it."""
    m = boots.inspect("cr3")
    pml4 = cr3_of(m) & paging.ADDR_MASK
    before = m.read_phys(pml4, 2 * 4096)
    # the first slot from 512 on whose word (in the page after the PML4) is not
    # present: there a missing range check writes instead of refusing as "in use"
    s = next((s for s in range(512, 1024)
              if not int.from_bytes(before[8 * s:8 * s + 8], "little") & paging.P), 512)
    stopped, out = run_fatal(boots.ready("cr3"), f"recursive {s}")
    after = boots.inspect("cr3").read_phys(pml4, 2 * 4096)
    assert stopped, (f"`recursive {s}` returned ({out.strip()[-200:]!r}); expected "
                     f"recursive_install to panic: a PML4 has 512 slots")
    assert "PANIC" in out and "recursive_install" in out, (
        f"`recursive {s}`: expected a panic in recursive_install; printed: {out.strip()[-300:]}")
    boots.inspect("cr3").assert_panicked_in("recursive_install")
    changed = paging.word_changes(before, after)
    if changed:
        i, old, new = changed[0]
        where = f"PML4[{i}]" if i < 512 else f"word {i - 512} of the page after it (slot {i})"
        more = f" (and {len(changed) - 1} more words)" if len(changed) > 1 else ""
        pytest.fail(f"`recursive {s}` changed {where}, PML4 at 0x{pml4:x}, before the panic: "
                    f"{paging.entry_text(old)} -> {paging.entry_text(new)}{more}; expected the PML4 "
                    "and the page after it untouched", pytrace=False)


# ---- the shared boot "main": phys_to_virt, entries, then ptdump -------------------

@pytest.mark.points(5)
def test_phys_to_virt_matches_gva2gpa(boots):
    """phys_to_virt gives physoff + pa, which QEMU translates back to pa, and reads pa's bytes."""
    off = boots.layouts["main"].physoff
    pas = [0, MAPPING_END - 8]  # both ends of the mapping, then random addresses
    pas += [boots.rng.randrange(4 << 20, 120 << 20, 8) for _ in range(P2V_SAMPLES)]
    got = {}
    try:
        outs = run_commands(boots.ready("main"), [f"p2v 0x{pa:x}" for pa in pas])
    except KernelError as e:
        raise KernelError(e.verdict, str(e) + offset_cause(boots, "main")) from None
    for out in outs:
        got.update(model.parse_p2v(out))
    m = boots.inspect("main")
    for pa in pas:
        assert pa in got, f"`p2v 0x{pa:x}` did not print the expected line 'p2v PA VA VALUE'"
        va, value = got[pa]
        assert va == off + pa, (
            f"phys_to_virt(0x{pa:x}) = 0x{va:x}; this boot maps physical memory at "
            f"0x{off:x}, so expected 0x{off + pa:x} {boots.why('main')}"
            + ("; it looks like phys_to_virt returned pa itself, without adding the "
               "physical-memory offset (boot_info.phys_offset)" if va == pa else ""))
        gpa = m.gva2gpa(va)
        assert gpa == pa, f"QEMU translates 0x{va:x} to {gpa and hex(gpa)}, expected 0x{pa:x}"
        real = int.from_bytes(m.read_phys(pa, 8), "little")
        assert value == real, (f"read 0x{value:x} through 0x{va:x}, expected 0x{real:x} from "
                               f"physical 0x{pa:x}")


@pytest.mark.points(5)
def test_pml4_entries_match_memory(boots):
    """`pml4` lists exactly the present PML4 entries, as stored and decoded by the grader."""
    got = model.parse_pml4(boots.ready("main").command("pml4"))
    m = boots.inspect("main")
    read_u64 = table_reader(m)
    table = cr3_of(m) & paging.ADDR_MASK
    real = {i: read_u64(table + 8 * i) for i in range(model.PT_ENTRIES)}
    present = sorted(i for i, e in real.items() if e & paging.P)
    assert sorted(got) == present, (
        f"`pml4` listed entries {sorted(got)}, expected the present entries {present} of the "
        f"PML4 at 0x{table:x} "
        f"{boots.why('main')}")
    for i in present:
        raw, text = got[i]
        assert model.same_entry(raw, real[i]), (
            f"pml4[{i}] printed 0x{raw:016x}, expected 0x{real[i]:016x} from physical memory")
        assert text == model.decode(raw, 4), (
            f"pml4[{i}] = 0x{raw:016x} printed as '{text}', expected '{model.decode(raw, 4)}'")


@pytest.mark.points(6)
def test_walk_chains_match_grader_walk(boots):
    """`walk VA` prints the chain of entries the grader's walk reads, for mapped and unmapped VAs."""
    lay, rng = boots.layouts["main"], boots.rng
    vas = [f.va + rng.randrange(0, f.size, 8) for f in lay.fixtures]
    vas += [elf_symbol("lab_main"), elf_symbol("kernel_pml4"), elf_symbol("kstack_guard"),
            lay.physoff + rng.randrange(0, 120 << 20, 8), rng.randrange(0x1000, 0x200000, 8),
            rng.randrange(1 << 30, 1 << 39, 8),  # PML4[0] present, its PDPT entry not
            model.make_va(model.free_slot(rng, set(lay.used)), rng.randrange(0, 1 << 39, 8))]
    outs = run_commands(boots.ready("main"), [f"walk 0x{va:x}" for va in vas])
    m = boots.inspect("main")
    read_u64, cr3 = table_reader(m), cr3_of(m)
    for va, out in zip(vas, outs):
        check_chain(m, model.parse_walk(out), va, read_u64, cr3, boots.why("main"))


def ptdump(boots):
    return boots.once("ptdump", lambda: model.parse_ptdump(boots.ready("main").command("ptdump")))


@pytest.mark.points(6)
def test_ptdump_matches_info_mem(boots):
    """ptdump's ranges, merged by user/writable, equal QEMU's `info mem`."""
    got = model.merge_user_writable(ptdump(boots))
    qemu = paging.parse_info_mem(boots.inspect("main").hmp("info mem"))
    assert qemu, "QEMU's info mem is empty: expected mappings"
    fmt = lambda r: f"{r[0]:016x}-{r[1]:016x} {'u' if r[2] else '-'}r{'w' if r[3] else '-'}"
    missing = [fmt(r) for r in qemu if r not in got]
    extra = [fmt(r) for r in got if r not in qemu]
    assert not missing and not extra, (
        "ptdump (merged by user/writable) does not match QEMU's info mem "
        f"{boots.why('main')}:\n  expected (QEMU), not printed: {missing[:6]}\n"
        f"  printed, not in QEMU: {extra[:6]}"
        + rights_cause(boots.inspect("main"), ptdump(boots), model.merge_user_writable))


@pytest.mark.points(6)
def test_ptdump_nx_and_page_sizes(boots):
    """ptdump's ranges equal the grader's walk merged by page size, W, U and NX."""
    got = ptdump(boots)
    m = boots.inspect("main")
    expect = model.expected_ranges(paging.leaves(table_reader(m), cr3_of(m)))
    missing = [str(r) for r in expect if r not in got]
    extra = [str(r) for r in got if r not in expect]
    assert not missing and not extra, (
        f"ptdump differs from the grader's walk {boots.why('main')}:\n"
        f"  expected, not printed: {missing[:6]}\n  printed, not expected: {extra[:6]}"
        + rights_cause(m, got))


@pytest.mark.points(4)
def test_ptdump_shows_fixtures(boots):
    """Each fixture placed at a random address appears as one range of its size and rights."""
    got = ptdump(boots)
    for f in boots.layouts["main"].fixtures:
        w, u, nx = f.rights()
        want = model.Range(f.va, f.va + f.size, w, u, nx, f.size)
        near = [str(r) for r in got if r.start < f.va + f.size and f.va < r.end]
        assert want in got, (f"fixture {f.name} ({f.param()}): expected the range '{want}'; "
                             f"ptdump printed {near or 'nothing there'} {boots.why('main')}")


# ---- the boot "rec": recursive slots, first below 256, then above ------------------

def rec_slots(boots):
    lay = boots.layouts["rec"]
    return boots.once("rec-slots", lambda: (model.free_slot(boots.rng, lay.used, 1, 255),
                                            model.free_slot(boots.rng, lay.used, 256, 510)))


def install(boots, which):
    """Install the low (0) or high (1) recursive slot on "rec"; return the slot."""
    s = rec_slots(boots)[which]

    def run():
        out = boots.ready("rec").command(f"recursive {s}")
        assert f"recursive slot {s}" in out, (f"`recursive {s}` did not print the expected "
                                              f"'recursive slot {s}': {out.strip()[-300:]}")
        return s
    return boots.once(f"install-{which}", run)


def rec_vas(boots):
    lay, rng = boots.layouts["rec"], boots.rng
    vas = [f.va + rng.randrange(0, f.size, 8) for f in lay.fixtures]
    vas += [elf_symbol("lab_main"), lay.physoff + rng.randrange(0, 120 << 20, 8),
            model.make_va(model.free_slot(rng, set(lay.used)), rng.randrange(0, 1 << 39, 8))]
    return vas


def check_rwalk(boots, which):
    s = install(boots, which)
    vas = rec_vas(boots)
    outs = run_commands(boots.ready("rec"), [f"rwalk 0x{va:x}" for va in vas])
    m = boots.inspect("rec")
    read_u64, cr3 = table_reader(m), cr3_of(m)
    why = f"(slot {s}) {boots.why('rec')}"
    for va, out in zip(vas, outs):
        printed = model.parse_rwalk(out)
        expect = paging.walk(read_u64, cr3, va).steps
        assert len(printed) == len(expect), (
            f"rwalk 0x{va:x} printed {len(printed)} levels, expected {len(expect)} {why}")
        for (lvl, tva, eva, raw, text), (elvl, tpa, idx, eraw) in zip(printed, expect):
            name = paging.LEVEL_NAMES[elvl]
            want_t, want_e = model.recursive_table(s, va, elvl), model.recursive_pte(s, va, elvl)
            assert (lvl, tva) == (elvl, want_t), (
                f"rwalk 0x{va:x}: recursive_table gave 0x{tva:x}, expected the {name} table "
                f"at 0x{want_t:x} through slot {s} {why}")
            assert eva == want_e, (f"rwalk 0x{va:x}: recursive_pte gave 0x{eva:x}, expected "
                                   f"the {name} entry at 0x{want_e:x} {why}")
            assert model.same_entry(raw, eraw), (
                f"rwalk 0x{va:x}: read 0x{raw:016x} through slot {s}, expected the {name} "
                f"entry 0x{eraw:016x} {why}")
            assert text == model.decode(raw, lvl), (
                f"rwalk 0x{va:x}: printed '{text}', expected '{model.decode(raw, lvl)}' {why}")
        # QEMU's own translation of the deepest entry address read through the slot
        lvl, tva, eva = printed[-1][:3]
        tpa, idx = expect[-1][1:3]
        gpa = m.gva2gpa(eva)
        assert gpa == tpa + 8 * idx, (
            f"QEMU translates 0x{eva:x} to {gpa and hex(gpa)}, expected the "
            f"{paging.LEVEL_NAMES[lvl]} entry at 0x{tpa + 8 * idx:x}: is PML4[{s}] the PML4's "
            f"own frame? {why}")


@pytest.mark.points(4)
def test_recursive_entry_points_at_pml4(boots):
    """`recursive SLOT` stores the PML4's own frame in PML4[SLOT]: present, writable, supervisor, NX."""
    s = install(boots, 0)
    m = boots.inspect("rec")
    cr3 = cr3_of(m)
    entry = m.phys_reader()((cr3 & paging.ADDR_MASK) + 8 * s)
    assert entry & paging.ADDR_MASK == cr3 & paging.ADDR_MASK, (
        f"PML4[{s}] = 0x{entry:016x}: expected the PML4's own frame 0x{cr3 & paging.ADDR_MASK:x}")
    flags = entry & (paging.P | paging.W | paging.U | paging.NX)
    want = paging.P | paging.W | paging.NX
    assert flags == want, (f"PML4[{s}] = 0x{entry:016x} has {paging.flag_names(flags)}, "
                           f"expected {paging.flag_names(want)} (never U: ring 3 must not reach tables)")
    cache = paging.PWT | paging.PCD
    extra = entry & ~(paging.ADDR_MASK | want | model.AD)
    assert not extra, (
        f"PML4[{s}] = 0x{entry:016x} has bits 0x{extra:x} ({paging.flag_names(extra)}) besides the "
        f"frame and P, W, NX; expected exactly 0x{(cr3 & paging.ADDR_MASK) | want:016x} (A and D "
        f"aside)"
        + (f": they are CR3's PWT/PCD bits (CR3 0x{cr3:x}): it looks like the entry was built from "
           f"CR3 whole instead of cr3_pml4()" if extra & cache and extra & cache == cr3 & cache
           and not extra & ~cache else ""))


def low_stage(boots):
    """The low-slot checks, run once and before the high slot replaces it."""
    return boots.once("rwalk-0", lambda: check_rwalk(boots, 0))


@pytest.mark.points(5)
def test_recursive_low_slot_walk(boots):
    """Through a lower-half recursive slot, table and entry addresses follow the formula and hold the tables."""
    low_stage(boots)


@pytest.mark.points(5)
def test_recursive_high_slot_walk(boots):
    """Through an upper-half recursive slot, the addresses are sign-extended and reach the same entries."""
    try:
        low_stage(boots)  # must come first: the high slot becomes the one rwalk uses
    except KernelError:
        raise
    except AssertionError:
        pass  # test_recursive_low_slot_walk reports it
    boots.once("rwalk-1", lambda: check_rwalk(boots, 1))
