"""The TA's gdb commands (grader/gdb/kit.py) against QEMU's own view.

Three machines start together, each stopped for gdb on its own socket, and
their gdb sessions run at the same time: the smoke kernel, asked to fault (a
#PF on a write to 0xdeadbeaf); a lab solution (Lab 2 when it builds, else
Lab 1) reached through the Makefile's `make gdb` target; and Lab 1 booting
straight into a bad segment load (#GP). Each `kit` command's output is
compared with QEMU (`info registers`, `gva2gpa`, `info mem`, memory read with
memsave/pmemsave, the -d int exception record) and with the grader's models
(page walk, descriptors, error codes), once each machine has reached a state
that no longer changes (kit: stopped, or the monitor's prompt). Addresses,
physical-map offsets, the gate to break and the bad load are chosen at
random per run (KIT_SEED=n repeats one).
"""
import os
import random
import re
import subprocess
import time

import pytest

from harness import Machine, config, paging, symbols

KIT = config.KIT
LAB_CHOICES = ("02-page-fault", "01-segmentation")  # first that builds: GDT, TSS and an IDT
GP_LAB = "01-segmentation"
GP_CASES = ["load:ss:0x1b",   # RPL 3 into SS at CPL 0
            "load:ds:0x48",   # past the GDT's limit
            "uload:ds:0x10",  # ring 3 loads a DPL 0 data segment
            "load:ds:0x28"]   # a TSS descriptor into a data register
GDB_TIMEOUT = 90
RAM = 128 << 20
MARK = "@@ "
PROMPT = "(gdb) "
HEX = r"0x([0-9a-f]+)"


# ---- sessions ---------------------------------------------------------------------

def random_physoff(rng):
    """A physical-map offset the core accepts: 1 GiB aligned, upper half, PML4 slot 256..510."""
    return (0xFFFF << 48) | (rng.randrange(256, 511) << 39) | (rng.randrange(0, 511) << 30)


def script(steps):
    """gdb commands: plain strings run as they are, (name, cmd) pairs print a marker first."""
    out = []
    for s in steps:
        if isinstance(s, tuple):
            out += [f"echo \\n{MARK}{s[0]}\\n", s[1]]
        else:
            out.append(s)
    return out + [f"echo \\n{MARK}end\\n"]


def sections(text):
    """{name: output} of a session's marked commands."""
    out, name = {}, None
    for line in text.splitlines():
        while line.startswith(PROMPT):  # `make gdb` reads stdin, so gdb prints its prompt
            line = line[len(PROMPT):]
        if line.startswith(MARK):
            name = line[len(MARK):].strip()
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def start_build(lab):
    """Start `make` of lab's solution into a folder of its own (so `make check`'s parallel
    builds of the same lab never collide with it); (lab, folder, process) or None."""
    if not (KIT / "labs" / lab).is_dir() or not (KIT / "solutions" / lab).is_dir():
        return None
    out = KIT / "build" / "selftest-gdb" / lab
    return lab, out, subprocess.Popen(["make", "-s", "-C", str(KIT / "labs" / lab), "SOLUTION=1",
                                       f"BUILD={out}"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)


def built(job):
    """The build folder of a start_build job once make is done, or None when it failed."""
    if job is None:
        return None
    _, out, proc = job
    return out if proc.wait() == 0 and (out / "kernel.iso").exists() else None


def build_labs():
    """{lab: build folder} of LAB_CHOICES and GP_LAB, built at once; None where it failed."""
    jobs = {lab: start_build(lab) for lab in dict.fromkeys(LAB_CHOICES + (GP_LAB,))}
    return {lab: built(job) for lab, job in jobs.items()}


class Session:
    """One machine stopped at its first instruction, and the gdb that drives it."""

    def __init__(self, name, tmp, iso, params):
        self.name = name
        self.sock = tmp / f"{name}.gdb.sock"
        self.machine = Machine(name, params=params, iso=iso,
                               extra_args=["-gdb", f"unix:{self.sock},server=on,wait=off", "-S"])
        self.elf = iso.parent / "kernel.elf"
        self.syms = symbols.load(str(self.elf))
        self.proc = None
        self.out = ""

    def start_gdb_batch(self, steps, before_connect=()):
        """gdb -batch with the same options as the Makefile's gdb target."""
        self.machine.hmp("info status")  # QEMU's main loop runs, so its gdb socket exists
        args = ["gdb", "-q", "-nx", "-batch", "-ex", "set architecture i386:x86-64",
                "-ex", f"file {self.elf}", "-x", str(KIT / "grader" / "gdb" / "kit.py")]
        for c in script(before_connect)[:-1] + [f"target remote {self.sock}"] + script(steps):
            args += ["-ex", c]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def start_make_gdb(self, lab, build, steps):
        """`make gdb` itself, with the session's ELF and socket, commands on stdin."""
        self.machine.hmp("info status")  # QEMU's main loop runs, so its gdb socket exists
        args = ["make", "-s", "-C", str(KIT), "gdb", f"LAB={lab}", "SOLUTION=1",
                f"LAB_BUILD={build}", f"GDB_SOCK={self.sock}"]
        commands = self.sock.with_suffix(".gdb")
        commands.write_text("\n".join(script(steps)) + "\n")
        with open(commands) as stdin:
            self.proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def wait_gdb(self, deadline):
        try:
            self.out = self.proc.communicate(timeout=max(1, deadline - time.monotonic()))[0]
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.out = self.proc.communicate()[0]
            raise AssertionError(f"gdb for {self.name} did not finish:\n{self.out[-3000:]}")
        self.sec = sections(self.out)

    def __getitem__(self, name):
        assert name in self.sec, f"{self.name}: no output for {name}:\n{self.out[-4000:]}"
        return self.sec[name]

    def close(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        self.machine.close()


def pick_symbols(syms, rng, n):
    """n random kernel symbols in text or data, as (name, gdb expression for its address):
    a function's name is its address, a variable's name is its value (hence &)."""
    count = {}
    for _, _, name, _ in syms.sorted:
        count[name] = count.get(name, 0) + 1
    names = [(name, name if kind in "tT" else "&" + name) for a, size, name, kind in syms.sorted
             if kind in "tTdDrRbB" and size and a >= 0xFFFFFFFF80000000 and count[name] == 1
             and re.fullmatch(r"[A-Za-z_]\w*", name)]
    return rng.sample(names, min(n, len(names)))


@pytest.fixture(scope="module")
def world(smoke_iso, tmp_path_factory):
    """Every session, run at once; each machine then left in a state that no longer changes."""
    seed = int(os.environ.get("KIT_SEED", 0)) or random.SystemRandom().getrandbits(32)
    rng = random.Random(seed)
    tmp = tmp_path_factory.mktemp("gdb")
    builds = build_labs()
    lab = next((l for l in LAB_CHOICES if builds[l]), None)
    lab_build = builds.get(lab)
    w = {"seed": seed, "lab": lab}
    smoke = Session("smoke", tmp, smoke_iso, {"misbehave": "fault", "physoff": random_physoff(rng)})
    w["smoke"] = smoke
    labs = gp = None
    gp_build = builds[GP_LAB]
    try:
        if gp_build:  # Lab 1 boots straight into a bad segment load (its run= parameter)
            case = rng.choice(GP_CASES)
            gp = Session("gp", tmp, gp_build / "kernel.iso", {"run": case})
            gp.case = case
            w["gp"] = gp
            gp.start_gdb_batch(["break trap", "continue", ("frame", "kit frame")])
        if lab:
            labs = Session(lab, tmp, lab_build / "kernel.iso", {"physoff": random_physoff(rng)})
            w["labs"] = labs
        smoke.physoff = smoke.machine.params["physoff"]
        smoke.walk_phys = smoke.physoff + rng.randrange(RAM)
        smoke.walk_sym = pick_symbols(smoke.syms, rng, 1)[0]
        smoke.start_gdb_batch([
            "break trap_vector14", "continue",
            ("raw", "kit frame raw"),
            "break trap", "continue",
            ("frame", "kit frame"), ("pferr", "kit pferr"), ("cr", "kit cr"),
            ("walk_cr2", "kit walk $cr2"), ("walk_sym", f"kit walk {smoke.walk_sym[1]}"),
            ("walk_phys", f"kit walk {smoke.walk_phys:#x}"),
            ("ptdump", "kit ptdump"), ("gdt", "kit gdt"), ("idt", "kit idt"), ("tss", "kit tss"),
            "return", "continue",               # the handler returns unfixed: the fault comes back
            ("loop", "kit frame raw"),
        ], before_connect=[("help", "help kit"), ("help_walk", "help kit walk"), ("no_target", "kit cr")])
        if labs:
            labs.physoff = labs.machine.params["physoff"]
            labs.walk_phys = labs.physoff + rng.randrange(RAM)
            labs.walk_syms = pick_symbols(labs.syms, rng, 2)
            labs.vector = rng.choice([v for v in range(32) if v not in (8, 15)])
            table = "idt" if "idt" in labs.syms.by_name else "core_idt"
            gate = "$kit_gate"
            labs.start_make_gdb(lab, lab_build, [
                "break monitor_run", "continue",
                ("cr", "kit cr"), ("gdt", "kit gdt"), ("tss", "kit tss"), ("idt", "kit idt"),
                ("gdt_sel", "kit gdt 0x2b"), ("idt_one", f"kit idt {labs.vector}"),
                ("walk_phys", f"kit walk {labs.walk_phys:#x}"),
                ("walk_sym0", f"kit walk {labs.walk_syms[0][1]}"),
                ("walk_sym1", f"kit walk {labs.walk_syms[1][1]}"),
                ("ptdump", "kit ptdump"),
                f"set var {gate} = (unsigned long *)((char *)&{table} + 16 * {labs.vector})",
                f"set var $kit_saved = {gate}[0]",
                f"set var {gate}[0] = ($kit_saved & ~0xffff0000ul) | (0x10ul << 16)",
                ("bad_sel", f"kit idt {labs.vector}"),
                f"set var {gate}[0] = $kit_saved & ~(1ul << 47)",
                ("not_present", f"kit idt {labs.vector}"),
                f"set var {gate}[0] = $kit_saved",
                ("restored", f"kit idt {labs.vector}"),
            ])
        deadline = time.monotonic() + GDB_TIMEOUT
        smoke.wait_gdb(deadline)
        if labs:
            labs.wait_gdb(deadline)
        if gp:
            gp.wait_gdb(deadline)
            gp.machine.wait_stop()
        smoke.machine.wait_stop()      # gdb detached: the #PF report, then kit_stop
        if labs:
            labs.machine.wait_prompt()  # gdb detached: boot goes on to the monitor
        yield w
    finally:
        for s in (smoke, labs, gp):
            if s:
                s.close()


def need_lab(world):
    if not world["lab"]:
        pytest.skip(f"no lab solution of {LAB_CHOICES} builds")
    return world["labs"]


def sessions(world):
    return [world["smoke"]] + ([world["labs"]] if world["lab"] else [])


# ---- parsing the commands' output --------------------------------------------------

def num(pattern, text, what=""):
    m = re.search(pattern, text, re.M)
    assert m, f"no {what or pattern!r} in:\n{text}"
    return int(m.group(1), 16)


def walk_entries(text):
    """[(level name, table, index, entry)] of `kit walk` lines."""
    return [(m.group(1), int(m.group(2), 16), int(m.group(3)), int(m.group(4), 16)) for m in
            re.finditer(r"^  (PML4|PDPT|PD|PT)\s+0x([0-9a-f]+)\[\s*(\d+)\] = 0x([0-9a-f]+)", text, re.M)]


def ptdump_ranges(text):
    return [(int(s, 16), int(e, 16), page, rights, int(pa, 16)) for s, e, page, rights, pa in
            re.findall(r"^  0x([0-9a-f]+)  0x([0-9a-f]+)\s+\S+\s+(\S+)\s+([-u][-r][-w][-x])\s+0x([0-9a-f]+)$",
                       text, re.M)]


def check_walk(s, va, text, regs):
    """kit walk's entries equal the model's walk over physical memory, its result gva2gpa."""
    m = s.machine
    model = paging.walk(m.phys_reader(), regs.cr3, va)
    got = walk_entries(text)
    want = [(paging.LEVEL_NAMES[l], t, i, e) for l, t, i, e in model.steps]
    mask = paging.A | paging.D  # the CPU may set them after gdb looked
    assert [(n, t, i, e & ~mask) for n, t, i, e in got] == [(n, t, i, e & ~mask) for n, t, i, e in want], \
        f"{s.name}: kit walk 0x{va:x} printed other entries than the model's walk:\n{text}"
    qemu = m.gva2gpa(va)
    if qemu is None:
        assert "not mapped" in text and model.pa is None, text
    else:
        assert num(r"^mapped: PA 0x([0-9a-f]+)", text) == qemu == model.pa, text
        assert f"({ {4096: '4K', 1 << 21: '2M', 1 << 30: '1G'}[model.page_size] } page)" in text, text


# ---- tests -----------------------------------------------------------------------------

def test_two_gdb_sessions_at_once_each_see_their_own_machine(world):
    """Two gdb sessions run at the same time on two machines, and each reports its own
    machine's CR3, physical-map offset and code."""
    ss = sessions(world)
    for s in ss:
        assert "kit: gdb commands loaded" in s.out, s.out[-2000:]
        cr3 = s.machine.regs().cr3
        assert num(r"^CR3\s+0x([0-9a-f]+)", s["cr"]) == cr3
        assert f"PA 0x{s.walk_phys - s.physoff:x}" in s["walk_phys"], s["walk_phys"]
    if len(ss) == 2:
        a, b = ss
        assert f"{a.walk_phys:016x}" not in b.out and f"{b.walk_phys:016x}" not in a.out
        assert "Breakpoint 2, trap" in a.out and "monitor_run ()" in b.out


def test_make_gdb_target_connects_in_64bit_mode_with_kit_commands(world):
    """`make gdb` (with GDB_SOCK and LAB_BUILD given) starts gdb on the lab's ELF in 64-bit
    mode, loads kit.py and stops at a C breakpoint."""
    s = need_lab(world)
    assert "Breakpoint 1, monitor_run" in s.out, s.out[-3000:]
    assert "List of kit subcommands" not in s.out and "Undefined command" not in s.out, s.out[-3000:]


def test_cr_shows_qemu_control_registers_with_named_bits(world):
    """kit cr prints CR0, CR2, CR3, CR4 and EFER as QEMU has them, with the SDM's bit names."""
    names = {"CR0": {0: "PE", 16: "WP", 31: "PG"}, "CR4": {5: "PAE", 7: "PGE", 20: "SMEP"},
             "EFER": {8: "LME", 10: "LMA", 11: "NXE"}}
    for s in sessions(world):
        r = s.machine.regs()
        text = s["cr"]
        for reg in ("CR0", "CR2", "CR3", "CR4", "EFER"):
            line = re.search(rf"^{reg}\s+0x([0-9a-f]+)(.*)$", text, re.M)
            assert line and int(line.group(1), 16) == r.gpr[reg], f"{s.name}: {reg}\n{text}"
            for bit, name in names.get(reg, {}).items():
                assert (f" {name}" in line.group(2)) == bool(r.gpr[reg] >> bit & 1), f"{reg}.{name}\n{text}"
        assert "64-bit mode, CPL 0, 4-level paging" in text


def test_walk_matches_model_and_gva2gpa(world):
    """kit walk prints the entries the grader's walk reads from physical memory, and the
    physical address QEMU's gva2gpa gives, for random kernel symbols and physical-map addresses."""
    for s in sessions(world):
        r = s.machine.regs()
        check_walk(s, s.walk_phys, s["walk_phys"], r)
        assert "(2M page)" in s["walk_phys"]
        names = [("walk_sym", s.walk_sym)] if s.name == "smoke" else \
            [("walk_sym0", s.walk_syms[0]), ("walk_sym1", s.walk_syms[1])]
        for sec, (name, _) in names:
            check_walk(s, s.syms.addr(name), s[sec], r)


def test_walk_of_unmapped_cr2_stops_where_the_model_stops(world):
    """kit walk $cr2 after the smoke kernel's fault stops at the level the model stops at."""
    s = world["smoke"]
    r = s.machine.regs()
    assert r.cr2 == 0xDEADBEAF
    check_walk(s, r.cr2, s["walk_cr2"], r)
    model = paging.walk(s.machine.phys_reader(), r.cr3, r.cr2)
    assert f"stops at the {paging.LEVEL_NAMES[model.level]} entry" in s["walk_cr2"]


def test_ptdump_matches_info_mem_and_model(world):
    """kit ptdump's ranges equal the model's merged leaves, and QEMU's `info mem` once merged
    on the rights QEMU shows (user, write)."""
    for s in sessions(world):
        m, r = s.machine, s.machine.regs()
        got = ptdump_ranges(s["ptdump"])
        assert got, s["ptdump"]
        model = paging.merge(paging.leaves(m.phys_reader(), r.cr3),
                             key=lambda l: (l.size, l.writable, l.user, l.nx), physical=True)
        assert [(a, b) for a, b, *_ in got] == [(a, b) for a, b, _ in model], s["ptdump"]
        for (a, b, page, rights, pa), (_, _, (size, wr, us, nx)) in zip(got, model):
            assert page == {4096: "4K", 1 << 21: "2M", 1 << 30: "1G"}[size]
            assert rights == ("u" if us else "-") + "r" + ("w" if wr else "-") + ("-" if nx else "x")
        for a, _, _, _, pa in [got[0], random.Random(world["seed"]).choice(got)]:
            if pa:  # QEMU prints PA 0 as "gpa: 0", which Machine.gva2gpa reads as unmapped
                assert pa == m.gva2gpa(a), s["ptdump"]
        merged = []
        for a, b, _, rights, _ in got:
            key = (rights[0] == "u", rights[2] == "w")
            if merged and merged[-1][1] == a and merged[-1][2:] == key:
                merged[-1] = (merged[-1][0], b) + key
            else:
                merged.append((a, b) + key)
        assert merged == paging.parse_info_mem(m.hmp("info mem")), s["ptdump"]


def gdt_slots(text):
    return {int(i): (int(sel, 16), int(raw, 16), rest) for i, sel, raw, rest in
            re.findall(r"^\s+(\d+)  0x([0-9a-f]+)  0x([0-9a-f]{16})  (.*)$", text, re.M)}


def test_gdt_matches_memory_and_segment_caches(world):
    """kit gdt reads GDTR as QEMU has it, prints every slot as in memory, and decodes the
    slots CS, SS, DS and TR hold with QEMU's cached base, limit, DPL and kind."""
    for s in sessions(world):
        m, r = s.machine, s.machine.regs()
        base, limit = r.gdt
        text = s["gdt"]
        assert f"GDTR base 0x{base:x} limit 0x{limit:x}" in text
        mem = m.read_virt(base, limit + 1)
        slots = gdt_slots(text)
        assert sorted(slots) == list(range((limit + 1) // 8)), text
        for i, (sel, raw, rest) in slots.items():
            assert sel == i * 8 and raw == int.from_bytes(mem[8 * i:8 * i + 8], "little"), text
        for reg in ("CS", "SS", "DS", "TR"):
            seg = r.seg[reg]
            if seg.selector < 8:
                continue
            _, _, rest = slots[seg.index]
            assert f"{reg}=0x{seg.selector:02x}" in rest, f"{reg}\n{text}"
            assert f"DPL{seg.dpl} " in rest and (" P " in rest) == bool(seg.present), rest
            assert int(re.search(r"base 0x([0-9a-f]+)", rest).group(1), 16) == seg.base, rest
            lim = re.search(r"limit 0x([0-9a-f]+)(?: G \(0x([0-9a-f]+)\))?", rest)
            assert int(lim.group(2) or lim.group(1), 16) == seg.limit, rest
            if reg == "CS":
                assert rest.startswith("code64" if seg.l else "code"), rest
            if reg == "TR":
                assert rest.startswith("TSS64-"), rest
        assert "! " not in text, text


def test_gdt_selector_decodes_index_table_and_rpl(world):
    """kit gdt SEL names the selector's index, table and RPL and shows that one slot."""
    s = need_lab(world)
    text = s["gdt_sel"]
    assert "selector 0x002b = index 5 GDT RPL 3" in text, text
    assert len(gdt_slots(text)) in (1, 2) and 5 in gdt_slots(text), text


def test_tss_matches_tr_and_memory(world):
    """kit tss decodes the TSS at QEMU's TR base: RSP0 and IST1 as in memory, stacks checked;
    with TR 0 (the smoke kernel) it says ltr never ran."""
    smoke = world["smoke"]
    assert smoke.machine.regs().seg["TR"].selector == 0
    assert "TR is 0: ltr never ran" in smoke["tss"]
    s = need_lab(world)
    m, r = s.machine, s.machine.regs()
    tr = r.seg["TR"]
    text = s["tss"]
    assert f"TR 0x{tr.selector:04x}  base 0x{tr.base:x}  limit 0x{tr.limit:x}" in text, text
    mem = m.read_virt(tr.base, 104)
    rsp0 = int.from_bytes(mem[4:12], "little")
    ist1 = int.from_bytes(mem[0x24:0x2C], "little")
    assert num(r"^  RSP0\s+0x([0-9a-f]+)", text) == rsp0 != 0
    assert num(r"^  IST1\s+0x([0-9a-f]+)", text) == ist1 != 0
    assert "<rsp0_stack_top>" in text and "<ist1_stack_top>" in text, text
    assert f"I/O map base 0x{int.from_bytes(mem[0x66:0x68], 'little'):x}" in text
    assert "!" not in text, text


def gate_lines(text):
    return {int(v): (int(t, 16), int(sel, 16), kind, int(dpl), int(ist)) for v, t, sel, kind, dpl, ist in
            re.findall(r"^\s+(\d+) \S+\s+0x([0-9a-f]{16}) \S*\s+0x([0-9a-f]{4}) (\S+) DPL(\d) IST(\d)",
                       text, re.M)}


def test_idt_matches_memory(world):
    """kit idt reads IDTR as QEMU has it and prints each present gate's handler, selector,
    type, DPL and IST as the gate's bytes in memory say."""
    for s in sessions(world):
        m, r = s.machine, s.machine.regs()
        base, limit = r.idt
        text = s["idt"]
        assert f"IDTR base 0x{base:x} limit 0x{limit:x} ({(limit + 1) // 16} gates)" in text, text
        mem = m.read_virt(base, limit + 1)
        gates = gate_lines(text)
        present = 0
        for v in range((limit + 1) // 16):
            lo = int.from_bytes(mem[16 * v:16 * v + 8], "little")
            hi = int.from_bytes(mem[16 * v + 8:16 * v + 16], "little")
            if not lo >> 47 & 1:
                assert v not in gates
                continue
            present += 1
            target = (lo & 0xFFFF) | ((lo >> 48) << 16) | ((hi & 0xFFFFFFFF) << 32)
            kind = {0xE: "intr", 0xF: "trap"}[(lo >> 40) & 0xF]
            assert gates[v] == (target, (lo >> 16) & 0xFFFF, kind, (lo >> 45) & 3, (lo >> 32) & 7), \
                f"{s.name}: vector {v}\n{text}"
            if v < 32:
                assert f"trap_vector{v} " in text  # both kernels send exceptions to the core's stubs
            else:  # the one interrupt the kit takes: the UART's (IRQ 4), not an exception
                assert v == 36 and re.search(r"^\s+36 IRQ4\s+0x[0-9a-f]{16} serial_interrupt ", text, re.M), text
        assert present == len(gates) == 33
        assert "!" not in text, text


def test_idt_flags_a_bad_selector_and_a_not_present_gate(world):
    """With one gate's selector changed to the data segment through gdb, kit idt marks it;
    cleared P, it says not present (#NP); restored, the gate is clean again."""
    s = need_lab(world)
    v = s.vector
    assert "selector 0x10 is not a code segment: delivery raises #GP" in s["bad_sel"], s["bad_sel"]
    assert f"! not present: delivering it raises #NP (error code 0x{v * 8 + 2:x}" in s["not_present"]
    assert "!" not in s["restored"] and "!" not in s["idt_one"], s["restored"]
    assert s["restored"] == s["idt_one"]


def test_frame_raw_at_entry_stub_matches_qemu_exception_record(world):
    """kit frame raw at trap_vector14 decodes the CPU's frame as QEMU's -d int record has it."""
    s = world["smoke"]
    exc = [e for e in s.machine.exceptions() if e.vector == 14][0]
    text = s["raw"]
    assert "entry stub trap_vector14; error code on top" in text, text
    assert num(r"^  error\s+0x([0-9a-f]+)", text) == exc.error
    assert num(r"^  rip\s+0x([0-9a-f]+)", text) == exc.rip
    assert num(r"^  cs\s+0x([0-9a-f]+)", text) == exc.cs
    assert num(r"^  rsp\s+0x([0-9a-f]+)", text) == exc.rsp
    assert num(r"^  ss\s+0x([0-9a-f]+)", text) == exc.ss
    assert num(r"^  cr2\s+0x([0-9a-f]+)", text) == exc.cr2
    assert f"<{s.syms.function_at(exc.rip)}+" in text, text


def test_trapframe_in_handler_matches_qemu_exception_record(world):
    """kit frame in trap() finds its struct trapframe and shows what QEMU recorded."""
    s = world["smoke"]
    exc = [e for e in s.machine.exceptions() if e.vector == 14][0]
    text = s["frame"]
    assert "argument tf of trap" in text, text
    assert re.search(r"^  vector 14 #PF", text, re.M)
    assert num(r"^  error\s+0x([0-9a-f]+)", text) == exc.error
    for field in ("rip", "cs", "rsp", "ss"):
        assert num(rf"^  {field}\s+0x([0-9a-f]+)", text) == getattr(exc, field), field
    assert "came from ring 0" in text


def test_pferr_decodes_the_error_code_and_explains_it(world):
    """kit pferr at the handler decodes QEMU's recorded error code bit by bit and explains
    it with CR2's walk (not mapped)."""
    s = world["smoke"]
    exc = [e for e in s.machine.exceptions() if e.vector == 14][0]
    text = s["pferr"]
    words = ["protection" if exc.error & 1 else "not-present", "write" if exc.error & 2 else "read",
             "user" if exc.error & 4 else "supervisor"]
    assert f"error code 0x{exc.error:x} = {' '.join(words)}" in text, text
    assert f"P    = {exc.error & 1}" in text and f"W    = {exc.error >> 1 & 1}" in text
    assert "verdict: CR2 is not mapped" in text, text


def test_fault_loop_is_reported(world):
    """After the handler returns without fixing the cause, the same #PF stops at the entry
    stub again and kit frame raw says so; QEMU's record shows the fault twice."""
    s = world["smoke"]
    faults = [e for e in s.machine.exceptions() if e.vector == 14]
    assert len(faults) >= 2 and faults[0].rip == faults[1].rip
    assert "stopped here 2 times in a row" in s["loop"], s["loop"]
    assert "stopped here" not in s["raw"]


def test_frame_of_a_gp_decodes_the_selector_and_its_slot(world):
    """kit frame at a #GP from a bad segment load (Lab 1, chosen at random) shows QEMU's
    recorded error code as a selector, the GDT slot it names, and the ring it came from."""
    if "gp" not in world:
        pytest.skip(f"{GP_LAB} solution does not build")
    s = world["gp"]
    exc = [e for e in s.machine.exceptions() if e.vector == 13 and not e.software][0]
    text = s["frame"]
    assert re.search(r"^  vector 13 #GP", text, re.M), f"{s.case}\n{text}"
    assert num(r"^  error\s+0x([0-9a-f]+)", text) == exc.error != 0, f"{s.case}\n{text}"
    assert f"selector 0x{exc.error & ~3:x} = GDT index {exc.error >> 3}" in text, text
    base, limit = s.machine.regs().gdt
    if exc.error | 7 > limit:
        assert f"slot   past the GDT limit 0x{limit:x}" in text, text
    else:
        raw = int.from_bytes(s.machine.read_virt(base + (exc.error & ~7), 8), "little")
        dpl = raw >> 45 & 3
        assert re.search(rf"^  slot   GDT\[{exc.error >> 3}\] \S+\s+DPL{dpl} ", text, re.M), text
    for field in ("rip", "cs", "rsp", "ss"):
        assert num(rf"^  {field}\s+0x([0-9a-f]+)", text) == getattr(exc, field), f"{field}\n{text}"
    assert f"came from ring {exc.cpl}" in text, text


# ---- help, and the decoders against the grader's models ---------------------------

def test_help_lists_every_command_and_no_target_gives_a_clear_error(world):
    """`help kit` documents each command; before gdb connects, a command says to connect first."""
    s = world["smoke"]
    for cmd in ("cr", "walk", "ptdump", "gdt", "tss", "idt", "pferr", "frame"):
        assert re.search(rf"^kit {cmd} -- \S", s["help"], re.M), f"{cmd}\n{s['help']}"
    assert "Usage: kit walk VA [CR3]" in s["help_walk"]
    assert "kit cr: cannot reach QEMU's monitor" in s["no_target"] and "target remote" in s["no_target"]


def test_decoders_agree_with_the_grader_models():
    """The gdb extension's descriptor, gate and error-code decoders agree with the grader's
    own models (grader/models/segments.py, and pferr.py where present) on random values."""
    import importlib
    import sys
    sys.path.insert(0, str(KIT / "grader" / "gdb"))
    from kitgdb import descriptors as D, faults as F
    segments = importlib.import_module("models.segments")
    rng = random.Random(int(os.environ.get("KIT_SEED", 0)) or None)
    for _ in range(300):
        raw = segments.encode(rng.getrandbits(32), rng.getrandbits(20), rng.getrandbits(8), rng.getrandbits(4))
        mine, model = D.Descriptor(raw), segments.decode(raw)
        assert (mine.base, mine.limit, mine.access, mine.flags, mine.dpl, mine.byte_limit) == \
            (model.base, model.limit, model.access, model.flags, model.dpl, model.byte_limit), hex(raw)
        assert mine.code == model.code and mine.data == model.data
        lo, hi = rng.getrandbits(64), rng.getrandbits(64)
        g, mg = D.Gate(0, lo, hi), segments.decode_gate(lo, hi)
        assert (g.target, g.selector, g.dpl, g.type, int(g.present)) == (mg.target, mg.selector, mg.dpl, mg.type, mg.p)
        err = rng.getrandbits(16) & ~3
        assert f"= GDT index {err >> 3}" in F.selector_error_text(err) or err & 4 or not err
    try:
        pferr = importlib.import_module("models.pferr")
    except ImportError:
        return
    for err in pferr.every_defined_combination():
        assert F.pferr_words(err) == pferr.decode(err), hex(err)
