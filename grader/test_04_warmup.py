"""Lab 4, Part A: three page-table designs, translated inside the Lab 4 kernel.

The student's warmup/toy.c, x86_32.c and inverted.c are part of the Lab 4
kernel. This module generates every table of the run at random (with the
fixed worked example), and the addresses to ask about, writes them into one
file (models/page_tables.py: warmup_file) and boots the kernel with it as the
fw_cfg file opt/kit/warmup. The monitor commands `toy N`, `x86_32 N` and
`inverted N` run the student's translator on table N's queries; every answer
is compared with the models, and after each test QEMU's pmemsave of the
kernel's copy (warmup_blob, address from the ELF) must equal the file byte
for byte: the translators change nothing.

Part A has a boot of its own, so a Part A stub never costs Part B a point.
A translator that stops the kernel fails the test that ran it; the next test
gets a fresh boot with the same tables, unless the stop was a stub: then every
test of that translator fails with it, without booting again.
"""
import os
import shutil
import tempfile

import pytest

from harness import KernelError, Machine, config, symbols
from harness.text import strip_control
from models import page_tables as pt

LAB = "04-page-walk"
KERNEL_VMA = 0xFFFFFFFF80000000
BLOB = "warmup_blob"  # labs/04-page-walk/warmup_tables.c: where the kernel keeps the file
TIMEOUT = 5           # seconds for one test's queries: they take milliseconds

# The worked example of the handout: entry 2 = 1101 (frame 110, present).
EXAMPLE_ENTRIES = [0b1101 if i == 2 else 0 for i in range(pt.TOY_ENTRIES)]
EXAMPLE_QUERIES = [0b0010000000000100, 0b0011000000000100]


class Table:
    """One table of the file, its queries and the models' answers."""

    def __init__(self, kind, data, queries, expected, what):
        self.kind, self.data, self.queries, self.expected, self.what = \
            kind, data, queries, expected, what


def toy_table(entries, vas):
    return Table(pt.KIND_TOY, pt.toy_bytes(entries), [(0, va) for va in vas],
                 [pt.toy_translate(entries, va) for va in vas], f"toy table {entries}")


def x86_32_table(rng, pick):
    t = pt.random_x86_32(rng)
    vas = pick(t)
    return Table(pt.KIND_X86_32, pt.x86_32_bytes(t), [(0, va) for va in vas],
                 [pt.x86_32_translate(t.mem, t.cr3, va) for va in vas],
                 f"32-bit tables (CR3 {t.cr3:#x})")


def inverted_table(rng, pick):
    t = pt.random_inverted(rng)
    queries = [(pid, vpn << 12 | rng.getrandbits(12)) for pid, vpn in pick(t)]
    return Table(pt.KIND_INVERTED, t.to_bytes(), queries,
                 [pt.ipt_translate(t, pid, va) for pid, va in queries], "inverted table")


def plan(rng):
    """{test name: [Table]} for the whole module, one file's worth."""
    def toy_random():
        entries = pt.random_toy(rng)
        vas = [i << 12 | rng.getrandbits(12) for i in range(pt.TOY_ENTRIES)]
        return toy_table(entries, vas + [rng.getrandbits(16) for _ in range(16)])

    def x86_va(t, slots, n):
        return [pt.x86_32_va(rng, s) for s in slots for _ in range(n)]

    def other_spaces(t):
        fresh = [(rng.randrange(1, 5), rng.getrandbits(20)) for _ in range(10)]
        return t.traps + fresh + rng.sample(t.mapped(), 10)

    return {
        "toy_worked_example": [toy_table(EXAMPLE_ENTRIES, EXAMPLE_QUERIES)],
        "toy_random_tables": [toy_random() for _ in range(3)],
        "x86_32_4k_pages": [x86_32_table(rng, lambda t: x86_va(t, t.small, 12))],
        "x86_32_4m_pages": [x86_32_table(rng, lambda t: x86_va(t, t.huge, 6)
                                         + x86_va(t, t.small[:2], 1))],
        "x86_32_directory_holes": [x86_32_table(rng, lambda t: x86_va(t, rng.sample(t.holes, 24), 1)
                                                + x86_va(t, t.huge[:2] + t.small[:2], 1))],
        "inverted_hits_on_long_chains": [inverted_table(rng, lambda t: rng.sample(t.mapped(), 40))],
        "inverted_other_address_space": [inverted_table(rng, other_spaces)],
        "inverted_unused_frames_never_match": [inverted_table(
            rng, lambda t: t.stale + rng.sample(t.mapped(), 10))],
    }


class PartA:
    """The module's tables, their file and the machine that runs them."""

    def __init__(self):
        self.rng = config.new_rng(LAB + "-part-a")
        self.seed = self.rng.seed_value
        self.tests = plan(self.rng)
        tables = [t for ts in self.tests.values() for t in ts]
        index = {}
        for t in tables:  # each table's number among those of its kind, in file order
            t.index = index[t.kind] = index.get(t.kind, -1) + 1
        self.file = pt.warmup_file([(t.kind, t.data, t.queries) for t in tables])
        self.spans = []  # (start, end, table) of each record in the file
        at = 8
        for t in tables:
            end = at + 12 + len(t.data) + 8 * len(t.queries)
            self.spans.append((at, end, t))
            at = end
        self.tmp = tempfile.mkdtemp(prefix="kit-warmup-")
        self.path = os.path.join(self.tmp, "tables.bin")
        with open(self.path, "wb") as f:
            f.write(self.file)
        self.machine = None
        self.at_prompt = False  # the machine reached its first prompt
        self.boot_error = None  # the boot itself failed: no test can run
        self.stubs = {}         # kind -> the stub error its translator raised
        self.start()            # boots while pytest reaches the first test

    def why(self):
        return f"(seed {self.seed})"

    def start(self):
        name = self.path.replace(",", ",,")  # QEMU's option syntax doubles a comma
        try:
            self.machine = Machine(LAB, extra_args=["-fw_cfg", f"name=opt/kit/warmup,file={name}"])
        except KernelError as e:  # no kernel to boot (a build error)
            self.boot_error = e

    def ready(self):
        """The running machine at its prompt (a fresh one after a stop)."""
        if self.machine is None and not self.boot_error:
            self.start()
        if self.boot_error:
            raise self.boot_error
        if not self.at_prompt:
            try:
                self.machine.wait_prompt()
            except KernelError as e:
                self.boot_error = e
                raise
            self.at_prompt = True
        return self.machine

    def drop(self):
        if self.machine is not None:
            self.machine.close()
            self.machine, self.at_prompt = None, False

    def blob(self, m):
        """The kernel's copy of the file, as QEMU reads it from guest memory
        (None: the kernel has no such copy)."""
        syms = symbols.load(m.elf)
        if BLOB not in syms.by_name:
            return None
        room = syms.size(BLOB)
        assert len(self.file) <= room, f"kit error: {len(self.file)} bytes of tables, room for {room}"
        return m.read_phys(syms.addr(BLOB) - KERNEL_VMA, len(self.file))

    def run(self, test):
        """Run the test's tables: one list of answer lines per table, and what
        is wrong with the tables in guest memory afterwards ("" when nothing)."""
        tables = self.tests[test]
        kind = tables[0].kind
        if kind in self.stubs:
            raise self.stubs[kind]
        m = self.ready()
        name = pt.KIND_NAMES[kind]
        try:
            outs = m.commands([f"{name} {t.index}" for t in tables], timeout=TIMEOUT)
        except KernelError as e:
            cause = ""
            if e.verdict != "stub":
                try:
                    cause = crash_cause(tables, m.backtrace())
                except Exception:  # a machine already gone has no stack to read
                    cause = ""
            self.drop()
            if cause:
                raise KernelError(e.verdict, str(e) + cause) from None
            if e.verdict == "stub":
                self.stubs[kind] = e
            if e.verdict == "hang":  # say where to look, before the serial tail
                text = str(e).replace("\nLast serial lines:", f"\n(the {name} translator never "
                                      "returned: an endless loop, a chain you never leave?)"
                                      "\nLast serial lines:", 1)
                raise KernelError("hang", text) from None
            raise
        blob = self.blob(m)
        if blob is None:
            problem = (f"the kernel has no `{BLOB}`: it is not built from the kit's labs/{LAB}, "
                       "so its Part A tables cannot be checked")
        elif blob != self.file:
            self.drop()  # the next test gets tables as the grader wrote them
            problem = (f"the {name} translator changed the tables it read ({self.changed(blob)}); "
                       f"a translator only reads its table {self.why()}")
        else:
            problem = ""
        return [o.splitlines() for o in outs], problem

    def changed(self, blob):
        """Where the kernel's copy first differs from the file, or ""."""
        at = next(i for i, (a, b) in enumerate(zip(blob, self.file)) if a != b)
        where = f"byte {at} of the file"
        for start, end, t in self.spans:
            if start <= at < end:
                off = at - start - 12  # after the record's header: the table, then the queries
                where = f"{pt.KIND_NAMES[t.kind]} {t.index}, " + (
                    "its header" if off < 0 else f"byte {off} of the table" if off < len(t.data)
                    else f"query {(off - len(t.data)) // 8}")
        return f"{where}: 0x{self.file[at]:02x} became 0x{blob[at]:02x}"

    def close(self):
        self.drop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def part_a():
    p = PartA()
    yield p
    p.close()


def fmt(pa):
    return "fault" if pa is None else hex(pa)


def query_text(t, pid, va):
    return f"pid {pid} va {va:#x}" if t.kind == pt.KIND_INVERTED else f"{va:#x}"


def answers(part_a, test, judge):
    """Run the test's tables; call judge(table, pas) for each, pas the
    physical address (None: fault) printed for each query, in order, once each
    answer line is known to name the query it answers. Then the tables in guest
    memory must be as the grader wrote them."""
    outs, problem = part_a.run(test)
    for t, lines in zip(part_a.tests[test], outs):
        got = [a for a in map(pt.parse_answer, lines) if a]
        assert len(got) == len(t.queries), (
            f"`{pt.KIND_NAMES[t.kind]} {t.index}` printed {len(got)} answer lines, expected "
            f"{len(t.queries)} (one per query); its output began:\n"
            + "\n".join(strip_control(l)[:200] for l in lines[:8]))
        for (pid, va), (got_pid, got_va, _) in zip(t.queries, got):
            assert (got_pid or 0, got_va) == (pid, va), (
                f"{t.what}: expected the answer for {query_text(t, pid, va)}, the line printed "
                f"is for {query_text(t, got_pid or 0, got_va)}")
        judge(t, [pa for _, _, pa in got])
    if problem:
        pytest.fail(problem, pytrace=False)


def x86_32_tables(t):
    """(mem, cr3) of an x86_32 table record (x86_32_bytes: CR3, then the memory)."""
    return t.data[4:], int.from_bytes(t.data[:4], "little")


def toy_variants(entries):
    """(the mistake, its translator) for the classic toy-table slips."""
    frame = lambda e: ((e >> 1) & 0x7) << pt.TOY_OFFSET_BITS  # noqa: E731
    def present(va):
        return entries[va >> pt.TOY_OFFSET_BITS] & pt.TOY_P
    return [
        ("the offset was masked with 1 << 12 (one bit) instead of (1 << 12) - 1 (the 12 bits "
         "below it): an off-by-one in the mask",
         lambda va: frame(entries[va >> 12]) | (va & 1 << 12) if present(va) else None),
        ("P is never tested: a not-present entry still gives a frame",
         lambda va: frame(entries[va >> 12]) | (va & 0xFFF)),
    ]


def x86_32_variants(mem, cr3):
    """(the mistake, its translator) for the classic 4 MiB slips of a 32-bit walk
    (None from a translator: a fault)."""
    def pde(va):
        e = int.from_bytes(mem[(cr3 & pt.X32_ADDR) + 4 * (va >> 22):][:4], "little")
        return e if e & pt.X32_P and e & pt.X32_PS else None

    def huge(mask, off):
        return lambda va: (pde(va) & mask) | (va & off) if pde(va) is not None \
            else pt.x86_32_translate(mem, cr3, va)
    return [
        ("a 4 MiB page kept only va's low 12 bits as its offset: its offset is the low 22 bits",
         huge(pt.X32_4M, 0xFFF)),
        ("a 4 MiB frame was masked like a 4 KiB one (0xfffff000): bits 12-21 of the directory "
         "entry (PAT included) leaked into the address; mask with 0xffc00000",
         huge(pt.X32_ADDR, 0x3FFFFF)),
    ]


def table_cause(t, got):
    """'; it looks like <mistake>' when one classic slip gives every answer printed for
    table t (and the right translator does not), else ''."""
    if t.kind == pt.KIND_TOY:
        variants = toy_variants(list(t.data))
    elif t.kind == pt.KIND_X86_32:
        variants = x86_32_variants(*x86_32_tables(t))
    else:
        return ""
    vas = [va for _, va in t.queries]
    fits = [why for why, fn in variants if [fn(va) for va in vas] == got]
    return f"\n  it looks like {fits[0]}" if len(fits) == 1 else ""


def crash_cause(tables, stack):
    """Why a 32-bit translator stopped the kernel, when QEMU's stack shows the panic
    in x86_32_translate and only reading a 4 MiB directory entry as a table leaves the
    simulated memory for some query (the right walk never does)."""
    if not stack or "panic_at" not in stack or "x86_32_translate" not in stack:
        return ""
    for t in tables:
        if t.kind != pt.KIND_X86_32:
            continue
        mem, cr3 = x86_32_tables(t)
        for _, va in t.queries:
            pde = int.from_bytes(mem[(cr3 & pt.X32_ADDR) + 4 * (va >> 22):][:4], "little")
            at = (pde & pt.X32_ADDR) + 4 * ((va >> 12) & 0x3FF)
            if pde & pt.X32_P and pde & pt.X32_PS and at + 4 > len(mem):
                return (f"\n  QEMU's stack shows the panic in x86_32_translate. The query "
                        f"{va:#x} has the 4 MiB directory entry {pde:#010x} (PS set); read as a "
                        f"page table it sends the walk to {at:#x}, past the {len(mem):#x} bytes "
                        f"of simulated memory: it looks like PS is not tested, so the 4 MiB page "
                        f"is walked as a table")
    return ""


def check(part_a, test):
    """Every answer of the test's tables equals the model's, query by query."""
    def judge(t, got):
        for (pid, va), pa, want in zip(t.queries, got, t.expected):
            assert pa == want, (f"{t.what}: query {query_text(t, pid, va)}: translated to "
                                f"{fmt(pa)}, expected {fmt(want)} {part_a.why()}"
                                + table_cause(t, got))
    answers(part_a, test, judge)


# ---- the linear toy table ----------------------------------------------------
@pytest.mark.points(1)
def test_toy_worked_example(part_a):
    """Virtual 0010000000000100 through entry 2 = 1101 (frame 110, present) gives 110000000000100."""
    def judge(t, got):
        assert fmt(got[0]) == hex(0b110000000000100), \
            f"0b0010000000000100 translated to {fmt(got[0])}, expected 0b110000000000100 (0x6004)"
        assert got[1] is None, f"entry 3 is not present, yet 0x3004 translated to {fmt(got[1])}"
    answers(part_a, "toy_worked_example", judge)


@pytest.mark.points(2)
def test_toy_random_tables(part_a):
    """Every address of random 16-entry toy tables translates as the model does, holes included."""
    check(part_a, "toy_random_tables")


# ---- 32-bit two-level paging -------------------------------------------------
@pytest.mark.points(2)
def test_x86_32_4k_pages(part_a):
    """Addresses under page tables (present and not) translate as the model's two-level walk does."""
    check(part_a, "x86_32_4k_pages")


@pytest.mark.points(2)
def test_x86_32_4m_pages(part_a):
    """A directory entry with PS maps a 4 MiB page: 22 offset bits, flag bits and PAT masked out."""
    check(part_a, "x86_32_4m_pages")


@pytest.mark.points(1)
def test_x86_32_directory_holes(part_a):
    """A directory entry without P faults even when its other bits hold leftovers."""
    check(part_a, "x86_32_directory_holes")


# ---- the inverted table -------------------------------------------------------
@pytest.mark.points(2)
def test_inverted_hits_on_long_chains(part_a):
    """Every mapped (pid, page) is found, wherever it sits in its hash chain."""
    check(part_a, "inverted_hits_on_long_chains")


@pytest.mark.points(1)
def test_inverted_other_address_space(part_a):
    """A page mapped for one pid is not found for another pid walking the same chain."""
    check(part_a, "inverted_other_address_space")


@pytest.mark.points(1)
def test_inverted_unused_frames_never_match(part_a):
    """A free frame left in a chain does not translate, even with a matching pid and page."""
    check(part_a, "inverted_unused_frames_never_match")
