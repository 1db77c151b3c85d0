"""Lab 6 (bonus): memory protection without paging, the Cortex-M3 MPU.

The kernel runs on QEMU's mps2-an385 (harness_arm.ArmMachine). Every region
(number, base, size, rights) and every address comes from this run's random
seed and is typed at the kernel's `lab> ` prompt. What the kernel prints is
compared with QEMU's own view, never taken at its word: the MPU registers
(RBAR/RASR of the region RNR selects, CTRL) and the fault registers (CFSR,
MMFAR) read through QEMU's monitor, QEMU's record of each exception (-d int:
"...with CFSR.DACCVIOL and MMFAR 0x..."), memory read by QEMU, the kernel
ELF's symbols, and the grader's model of region matching and permissions
(models/mpu.py). Before each fatal access the grader leaves traces of an
earlier life in the fault registers, as a real kernel's would hold: a bus
error the kit survived (`kern probe`, BFSR flags in CFSR) and, where the
fault will not set MMFAR, an old address there.

Boots, started together at module setup: "main", shared by the checks that
do not stop the kernel; "edge", for the refusals, the clears at both ends
of the region numbers, a region moved while the MPU is on (run one
instruction at a time: QEMU's `singlestep`, so each register write takes
effect before the next instruction is fetched) and `mpu off`; and one fresh
boot per fatal scenario. The fatal scenarios run at once, one thread each, so a
kernel that hangs costs one timeout, not one per test.
"""
import functools
import random
import re
import threading
from dataclasses import dataclass

import pytest

from harness import KernelError, config
from harness_arm import MMFAR, SHCSR, ArmPool, elf, load_symbols
from models import mpu as model
from models.mpu import Region

LAB = "06-mpu"
ENCODE_SAMPLES = 12
CTRL_ON = model.CTRL_ENABLE | model.CTRL_PRIVDEFENA
CFSR_MMFSR = 0xFF  # CFSR's low byte; BFSR and UFSR above it
MEMMANAGE = 4  # the MemManage vector
BUS_ERROR_START, BUS_ERROR_SPAN = 0x50000000, 0x10000000  # nothing answers there on mps2-an385
VALID_APS = [a for a in range(8) if a != model.AP_RESERVED]
# the edge boot's checks, in this order, each after the stage it needs (edge_<step>(boots, ...))
EDGE_STEPS = {"refused": "edge_regions", "clear": "edge_regions", "moved": "edge_on",
              "disable": "edge_on"}


def hx(v):
    return "none" if v is None else f"0x{v:x}"


def verdict(test):
    """A kernel's verdict (hang, stub, panic, lockup...) is the whole story: report
    it without a Python traceback, which would only show the grader's plumbing."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except KernelError as e:
            err = e
        pytest.fail(f"[{err.verdict}] {err}", pytrace=False)  # outside: no chained report
    return run


# ---- what each boot does -------------------------------------------------------------
class Scenario:
    """One fatal boot: its regions, accesses that must work first, then the one
    that must fault. `focus` is the region whose registers QEMU shows at the stop."""

    def __init__(self, regions, fatal, before=(), plant=None, stack=False):
        self.regions = regions        # [Region], programmed in this order
        self.before = list(before)    # [(who, access, addr)]: must work
        self.fatal = fatal            # (who, access, addr): must fault
        self.plant = plant            # (addr, word) written by the kernel before `mpu on`
        self.stack = stack            # the fatal access is `user stack ADDR`
        self.mpu = model.Mpu(enabled=True)
        for r in regions:
            self.mpu.set(r)
        self.focus = self.mpu.match(fatal[2]) or regions[-1]

    def outcome(self):
        who, access, addr = self.fatal
        if self.stack:
            return model.Outcome(False, model.MSTKERR, None, self.regions[0],
                                 f"{self.regions[0]}: an exception frame cannot be pushed there")
        return self.mpu.check(addr, access, who == "kern")


def _numbers(rng, k):
    return rng.sample(range(model.FIRST_FREE_REGION, model.REGIONS), k)


def _slots(rng, k):
    return rng.sample(range((model.ARENA_END - model.ARENA_START) // model.SLOT), k)


def _one(rng, ap_choices, xn, **kw):
    (n,), (slot,) = _numbers(rng, 1), _slots(rng, 1)
    return model.random_region(rng, slot, n, rng.choice(ap_choices), xn, **kw)


def choose_scenarios(r):
    s = {}
    for name, access in (("user_read_noaccess", "read"), ("user_write_noaccess", "write")):
        reg = _one(r, [model.AP_NONE, model.AP_PRW, model.AP_PRO], r.random() < 0.5)
        s[name] = Scenario([reg], ("user", access, model.address_in(r, reg)))

    reg = _one(r, [model.AP_PRW_URO, model.AP_RO, model.AP_RO_ALT], True)
    s["user_write_readonly"] = Scenario([reg], ("user", "write", model.address_in(r, reg)),
                                        before=[("user", "read", model.address_in(r, reg))])

    reg = _one(r, [model.AP_PRO, model.AP_RO], True)
    s["kernel_write_readonly"] = Scenario([reg], ("kern", "write", model.address_in(r, reg)),
                                          before=[("kern", "read", model.address_in(r, reg))])

    reg = _one(r, [model.AP_PRW_URO, model.AP_RW, model.AP_RO], True)
    code = model.address_in(r, reg)
    s["exec_never"] = Scenario([reg], ("user", "exec", code), before=[("user", "read", code)],
                               plant=(code, model.thumb_return(r.randrange(256))))

    (n,), slots = _numbers(r, 1), _slots(r, 2)
    reg = model.random_region(r, slots[0], n, model.AP_RW, True)
    addr = model.free_address(r, [slots[0]])
    s["user_background"] = Scenario([reg], ("user", "read", addr), before=[
        ("kern", "read", addr), ("user", "read", model.address_in(r, reg))])

    lo, hi = sorted(_numbers(r, 2))
    (slot,) = _slots(r, 1)
    big = model.random_region(r, slot, lo, model.AP_RW, True, min_log2=13, max_log2=16)
    size = 1 << r.randint(8, 11)
    small = Region(hi, big.base + size * r.randrange(big.size // size), size,
                   r.choice([model.AP_NONE, model.AP_PRW, model.AP_PRO]), True)
    outside = next(a for a in iter(lambda: model.address_in(r, big), None) if not small.covers(a))
    s["overlap_higher_wins"] = Scenario([big, small], ("user", "write", model.address_in(r, small)),
                                        before=[("user", "write", outside)])

    off = r.sample(range(model.SUBREGIONS), r.randint(1, 4))
    on = [i for i in range(model.SUBREGIONS) if i not in off]
    reg = _one(r, [model.AP_RW], True, min_log2=10, srd=sum(1 << i for i in off))
    hole = model.address_in(r, reg, off)
    s["subregion_disabled"] = Scenario([reg], ("user", "read", hole), before=[
        ("user", "read", model.address_in(r, reg, on)), ("kern", "read", hole)])

    reg = _one(r, [model.AP_NONE, model.AP_PRW], True, min_log2=9)
    sp = reg.base + 8 * r.randrange(8, reg.size // 8)
    s["stacking_fault"] = Scenario([reg], ("user", "stack", sp), stack=True)
    return s


class MainLayout:
    """The shared boot's regions: one of each kind, in distinct slots and numbers."""

    def __init__(self, r):
        nums, slots = _numbers(r, 5), _slots(r, 6)
        self.rw = model.random_region(r, slots[0], nums[0], model.AP_RW, True)
        self.ro = model.random_region(r, slots[1], nums[1], r.choice([model.AP_PRW_URO, model.AP_RO]),
                                      True)
        self.code = model.random_region(r, slots[2], nums[2],
                                        r.choice([model.AP_PRW_URO, model.AP_RW, model.AP_RO]), False)
        self.prw = model.random_region(r, slots[3], nums[3], model.AP_PRW, True)
        self.late = model.random_region(r, slots[4], nums[4], model.AP_RW, True)  # after `mpu on`
        self.regions = [self.rw, self.ro, self.code, self.prw]
        self.free = model.free_address(r, slots[:5])
        self.imm = r.randrange(256)
        self.code_addr = model.address_in(r, self.code)
        self.mpu = model.Mpu(enabled=True)
        for reg in self.regions + [self.late]:
            self.mpu.set(reg)


class EdgeLayout:
    """The edge boot's regions: all eight programmed, one per arena slot, so a
    write to the wrong region always shows."""

    def __init__(self, r):
        slots = _slots(r, model.REGIONS)
        self.regions = [model.random_region(r, slots[n], n, r.choice(VALID_APS), r.random() < 0.5)
                        for n in range(model.REGIONS)]
        self.mpu = model.Mpu(enabled=False)
        for reg in self.regions:
            self.mpu.set(reg)

    def free(self, r):
        """A word in the arena that no region covers."""
        while True:
            addr = model.ARENA_START + 4 * r.randrange((model.ARENA_END - model.ARENA_START) // 4)
            if self.mpu.match(addr) is None:
                return addr


class Guarded:
    """The shared boot: after its first verdict (a hang, a stop...), every later
    use fails at once with that verdict instead of waiting again."""

    def __init__(self, machine):
        self.machine = machine
        self.dead = None

    def __getattr__(self, name):
        attr = getattr(self.machine, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if self.dead is not None:
                raise KernelError(self.dead.verdict, "the shared boot stopped during an earlier "
                                  f"test: {self.dead}")
            try:
                return attr(*args, **kwargs)
            except KernelError as e:
                self.dead = e
                raise
        return call


@dataclass
class Stop:
    """What a fatal scenario left: the kernel's words and QEMU's view."""
    command: str
    out: str
    report: model.Report
    fault: dict         # harness_arm.ArmMachine.fault_regs()
    mpu: dict           # .mpu_regs()
    excs: list          # [ArmExc] with a MemManage flag or vector
    memory_kept: bool   # a refused write left memory alone
    stale_mmfar: int    # the old address the grader left in MMFAR (no-address faults), or None
    cfsr_before: int    # CFSR before the fault: an earlier bus error's BFSR flags


class Boots:
    def __init__(self, pool):
        path = elf(LAB)
        if not path.exists():
            raise KernelError("build", f"no kernel ELF {path}: the lab did not build")
        self.sym = load_symbols(path)
        self.rng = config.new_rng(LAB)
        self.seed = self.rng.seed_value
        self.main = MainLayout(self.rng)
        self.edge_layout = EdgeLayout(self.rng)
        self.scenarios = choose_scenarios(self.rng)
        self.pool = pool
        pool.start("main", LAB, seed=self.rng.getrandbits(32))
        pool.start("edge", LAB, seed=self.rng.getrandbits(32))
        for name in self.scenarios:
            pool.start(name, LAB, seed=self.rng.getrandbits(32))
        self.m = Guarded(pool["main"])
        self.edge = Guarded(pool["edge"])
        self._stages = {}
        self._results = {}
        self.edge_rng = random.Random(f"{self.seed}:edge")
        self._edge_results = {}
        self._threads = {"edge": threading.Thread(target=self._run_edge, daemon=True)}
        self._threads.update({name: threading.Thread(target=self._run_fatal, args=(name,),
                                                     daemon=True) for name in self.scenarios})
        for t in self._threads.values():
            t.start()

    def where(self):
        return f" (seed {self.seed}: KIT_SEED={self.seed} repeats this run)"

    # -- the shared boot, in stages the tests ask for; a stage's failure is every
    #    later test's failure too --
    def stage(self, name):
        if name not in self._stages:
            try:
                self._stages[name] = (getattr(self, "_" + name)(), None)
            except AssertionError as e:  # KernelError too
                self._stages[name] = (None, e)
        value, err = self._stages[name]
        if err is not None:
            raise err.with_traceback(None)  # a fresh traceback each time
        return value

    def _prompt(self):
        return self.m.wait_prompt()

    def _regions(self):
        self.stage("prompt")
        L = self.main
        outs = self.m.commands([reg.command() for reg in L.regions])
        for reg, out in zip(L.regions, outs):
            assert "set" in out, f"`{reg.command()}` was refused: {out.strip()!r}" + self.where()
        self.m.command(f"kern write {hx(L.code_addr)} {hx(model.thumb_return(L.imm))}")

    def _on(self):
        self.stage("regions")
        return mpu_on(self.m, self.where())

    def _edge_regions(self):
        self.edge.wait_prompt()
        outs = self.edge.commands([reg.command() for reg in self.edge_layout.regions])
        for reg, out in zip(self.edge_layout.regions, outs):
            assert "set" in out, f"`{reg.command()}` was refused: {out.strip()!r}" + self.where()

    def _edge_on(self):
        self.stage("edge_regions")
        mpu_on(self.edge, self.where())
        self.edge_layout.mpu.enabled = True
        for n in range(model.FIRST_FREE_REGION):  # now the kit's, outside the arena
            self.edge_layout.mpu.clear(n)

    # -- the fatal scenarios, one thread each --
    def result(self, name):
        self._threads[name].join()
        value, err = self._results[name]
        if err is not None:
            raise err.with_traceback(None)
        return value

    # -- the edge boot's checks, in order, in one thread of their own --
    def edge_result(self, step):
        self._threads["edge"].join()
        value, err = self._edge_results[step]
        if err is not None:
            raise err.with_traceback(None)
        return value

    def _run_edge(self):
        for step, stage in EDGE_STEPS.items():
            try:
                self.stage(stage)
                self._edge_results[step] = (globals()["edge_" + step](
                    self, self.edge_layout, self.edge_rng, self.edge), None)
            except AssertionError as e:  # KernelError too
                self._edge_results[step] = (None, e)
            except Exception as e:  # a grader bug must still end the test, not hang it
                self._edge_results[step] = (None, AssertionError(f"grader error in {step}: {e!r}"))

    def _run_fatal(self, name):
        try:
            self._results[name] = (run_scenario(self, name), None)
        except AssertionError as e:  # KernelError too
            self._results[name] = (None, e)
        except Exception as e:  # a grader bug must still end the test, not hang it
            self._results[name] = (None, AssertionError(f"grader error in {name}: {e!r}"))


@pytest.fixture(scope="module")
def boots():
    pool, b = ArmPool(), None
    try:
        b = Boots(pool)
        yield b
    finally:
        # every QEMU ends; a scenario thread still running gets a verdict and
        # returns before its machine is closed here (harness_arm.ArmPool.close)
        pool.close(b._threads.values() if b else ())


# ---- running accesses ----------------------------------------------------------------
def access_command(who, access, addr, value=None):
    if access == "write":
        return f"{who} write {hx(addr)} {hx(value)}"
    return f"{who} {access} {hx(addr)}"


def region_in_qemu(m, number):
    """(RBAR, RASR) of region `number` as QEMU holds them (the kit's `select` sets RNR)."""
    m.command(f"select {number}")
    regs = m.mpu_regs()
    return regs["RBAR"], regs["RASR"]


def check_region(boots, rbar, rasr, reg):
    want_rbar, want_rasr = reg.hardware()
    assert (rbar, rasr) == (want_rbar, want_rasr), (
        f"{reg}: QEMU's MPU holds RBAR {hx(rbar)} RASR {hx(rasr)}, expected RBAR {hx(want_rbar)} "
        f"RASR {hx(want_rasr)} (models/mpu.py){rasr_hint(rasr, want_rasr)}" + boots.where())


# RASR's fields: name, shift, width (labs/06-mpu/include/mpu.h)
RASR_FIELDS = (("ENABLE", 0, 1), ("SIZE", 1, 5), ("SRD", 8, 8), ("B", 16, 1), ("C", 17, 1),
               ("S", 18, 1), ("TEX", 19, 3), ("AP", 24, 3), ("XN", 28, 1))


def rasr_hint(got, want):
    """': <the fields that differ, each with its likely cause>', or '' when none does."""
    said = []
    for name, shift, width in RASR_FIELDS:
        g, w = (got >> shift) & ((1 << width) - 1), (want >> shift) & ((1 << width) - 1)
        if g == w:
            continue
        if name == "SIZE":
            said.append(f"SIZE is {g}, expected {w}: a region of 2^(SIZE+1) bytes has SIZE = "
                        f"log2(size) - 1{', not log2(size)' if g == w + 1 else ''}")
        elif name == "ENABLE":
            said.append("ENABLE (bit 0) is clear: the region is written but switched off "
                        "(MPU_RASR_ENABLE)" if w else "ENABLE (bit 0) is set on a region that must be off")
        elif name == "XN":
            said.append("XN (bit 28) is clear on an execute-never region (MPU_RASR_XN when r->xn)"
                        if w else "XN (bit 28) is set on a region that may run code")
        elif name == "AP":
            said.append(f"AP (bits 26:24) is {g}, expected {w}: MPU_RASR_AP(r->ap)")
        elif name == "SRD":
            said.append(f"SRD (bits 15:8) is {hx(g)}, expected {hx(w)}: r->srd << MPU_RASR_SRD_SHIFT")
        elif "memory type" not in " ".join(said):
            said.append("the memory type (TEX S C B, bits 21:16) differs: every region uses "
                        "MPU_RASR_ATTR_NORMAL")
    if not said and got != want:
        said.append(f"bits {hx(got ^ want)} differ outside RASR's fields")
    return ": " + "; ".join(said) if said else ""


def mpu_state(m):
    """QEMU's MPU, every register a refusal must keep: CTRL, RNR and each region's
    (RBAR, RASR), walked with the kit's `select`; RNR is put back as it was."""
    regs = m.mpu_regs()
    regions = [region_in_qemu(m, n) for n in range(model.REGIONS)]
    m.command(f"select {regs['RNR']}")
    return {"CTRL": regs["CTRL"], "RNR": regs["RNR"], "regions": regions}


def state_diff(before, after):
    """What changed between two mpu_state()s, register by register."""
    said = [f"{k} {hx(before[k])} -> {hx(after[k])}" for k in ("CTRL", "RNR") if before[k] != after[k]]
    for n, (b, a) in enumerate(zip(before["regions"], after["regions"])):
        if b != a:
            said.append(f"region {n}: RBAR {hx(b[0])} RASR {hx(b[1])} -> RBAR {hx(a[0])} "
                        f"RASR {hx(a[1])}")
    return "; ".join(said)


def enable_hint(m):
    """Why `mpu on` stopped the kernel, from QEMU's CTRL and SHCSR ('' when they look right)."""
    raw = getattr(m, "machine", m)  # past Guarded: the boot is dead, QEMU still answers
    try:
        ctrl, shcsr = raw.mpu_regs()["CTRL"], raw.read_word(SHCSR)
    except KernelError:
        return ""
    if ctrl & model.CTRL_ENABLE and not ctrl & model.CTRL_PRIVDEFENA:
        return (f": QEMU's MPU_CTRL is {hx(ctrl)}, ENABLE without PRIVDEFENA, so the kernel's own "
                "code and stack lie in no region and its next instruction faults (mpu_enable(true) "
                "must set MPU_CTRL_PRIVDEFENA)")
    if ctrl != CTRL_ON:
        return f": QEMU's MPU_CTRL is {hx(ctrl)}, expected {hx(CTRL_ON)}"
    if not shcsr & model.SHCSR_MEMFAULTENA:
        return (f": QEMU's SHCSR is {hx(shcsr)}, MEMFAULTENA clear, so a MemManage fault "
                "escalates to HardFault")
    return ""


def mpu_on(m, where):
    """`mpu on` (the kit's regions 0-1, then mpu_enable(true)); if it stops the kernel, say why."""
    try:
        out = m.command("mpu on")
    except KernelError as e:
        raise KernelError(e.verdict, f"`mpu on` stopped the kernel{enable_hint(m)}{where}; {e}") \
            from None
    assert "mpu: on" in out, f"`mpu on` printed {out.strip()!r}" + where
    return out


def run_allowed(boots, m, mpu, who, access, addr, value=None):
    """Run an access the model allows; check a read against QEMU; return the value printed."""
    cmd = access_command(who, access, addr, value)
    why = mpu.check(addr, access, who == "kern")
    assert why.allowed, f"grader bug: `{cmd}` is refused by the model: {why.why}"
    try:
        out = m.command(cmd)
    except KernelError as e:
        raise KernelError(e.verdict, f"`{cmd}` must work ({why.why}); {e}") from None
    got = model.parse_access(out)
    assert got, f"`{cmd}` printed {out.strip()!r}" + boots.where()
    if access == "read":
        real = m.read_word(addr)
        assert got[3] == real, (f"`{cmd}` printed {hx(got[3])}, but QEMU reads {hx(real)} there "
                                f"({why.why})" + boots.where())
    if access == "write":
        real = m.read_word(addr)
        assert real == value, f"after `{cmd}` QEMU reads {hx(real)} there" + boots.where()
    return got[3]


def run_scenario(boots, name):
    """In its own thread: program the scenario's boot, run it into the fault; collect QEMU's view."""
    sc = boots.scenarios[name]
    m = boots.pool[name]
    rng = random.Random(f"{boots.seed}:{name}")
    m.wait_prompt()
    cmds = [reg.command() for reg in sc.regions]
    if sc.plant:
        cmds.append(f"kern write {hx(sc.plant[0])} {hx(sc.plant[1])}")
    # a fault that leaves MMARVALID clear leaves MMFAR as it was: make that an old
    # address, so a report that reads MMFAR anyway shows it
    stale = None if sc.outcome().address is not None else 4 * rng.randrange(1, 1 << 30)
    if stale is not None:
        cmds.append(f"kern write {hx(MMFAR)} {hx(stale)}")
    # and a bus error the kit survives leaves its flags in CFSR's BFSR byte, beside the MMFSR
    probe = f"kern probe {hx(BUS_ERROR_START + 4 * rng.randrange(BUS_ERROR_SPAN // 4))}"
    cmds.append(probe)
    for cmd, out in zip(cmds, m.commands(cmds)):
        if cmd.startswith("region"):
            assert "set" in out, f"`{cmd}` was refused: {out.strip()!r}" + boots.where()
        if cmd == probe:
            assert "bus error" in out, f"grader bug: `{probe}` printed {out.strip()!r}"
    mpu_on(m, boots.where())
    cfsr_before = m.fault_regs()["CFSR"]
    for who, access, addr in sc.before:
        run_allowed(boots, m, sc.mpu, who, access, addr, rng.getrandbits(32))
    m.command(f"select {sc.focus.number}")
    who, access, addr = sc.fatal
    cmd = f"user stack {hx(addr)}" if sc.stack else access_command(who, access, addr,
                                                                     rng.getrandbits(32))
    old = m.read_word(addr) if access == "write" else None
    try:
        out = m.command_fatal(cmd)
    except KernelError as e:
        if e.verdict == "hang":
            raise KernelError(e.verdict, f"`{cmd}` must fault ({sc.outcome().why}), and the "
                              f"MemManage handler must report it and stop; {e}") from None
        raise
    excs = [e for e in m.arm_exceptions()
            if e.vector == MEMMANAGE or e.cfsr_flags & set(model.MMFSR_NAMES.values())]
    return Stop(cmd, out, model.parse_report(out), m.fault_regs(), m.mpu_regs(), excs,
                old is None or m.read_word(addr) == old, stale, cfsr_before)


def check_fault(boots, name):
    """The verdict on a fatal scenario: model, QEMU's registers and record, the report."""
    sc, stop = boots.scenarios[name], boots.result(name)
    outcome = sc.outcome()
    who, access, addr = sc.fatal
    w = boots.where()
    assert not outcome.allowed, f"grader bug: {name} expects a fault but the model allows it"
    if "EXCEPTION 3 HardFault" in stop.out:
        pytest.fail(f"`{stop.command}` ended in a HardFault, not in memmanage_handler "
                    f"({outcome.why}):\n{stop.out.strip()}" + w, pytrace=False)
    rep = stop.report
    assert rep, (f"`{stop.command}` stopped the kernel without a MEMMANAGE report "
                 f"(mm_report):\n{stop.out.strip()[-600:]}" + w)
    # QEMU's record of the fault, taken when it happened
    want = {n for bit, n in model.MMFSR_NAMES.items() if outcome.mmfsr & bit and bit != model.MMARVALID}
    assert stop.excs, "QEMU recorded no MemManage fault, yet the kernel reported one" + w
    first = stop.excs[0]
    assert want <= first.cfsr_flags, (f"QEMU recorded a fault with {sorted(first.cfsr_flags)}, "
                                      f"expected {sorted(want)} ({outcome.why}); QEMU: {first}" + w)
    if outcome.address is not None:
        assert first.mmfar == addr, (f"QEMU recorded the fault at {hx(first.mmfar)}, expected "
                                     f"{hx(addr)} ({outcome.why}); QEMU: {first}" + w)
    # QEMU's registers at the stop
    mmfsr = stop.fault["CFSR"] & CFSR_MMFSR
    assert mmfsr == outcome.mmfsr, (
        f"CFSR's MMFSR is {hx(mmfsr)} ({model.mmfsr_text(mmfsr)}) in QEMU, expected "
        f"{hx(outcome.mmfsr)} ({model.mmfsr_text(outcome.mmfsr)}): {outcome.why}. Leave CFSR as "
        "the fault set it" + w)
    assert stop.fault["CFSR"] & ~CFSR_MMFSR == stop.cfsr_before & ~CFSR_MMFSR, (
        f"QEMU's CFSR is {hx(stop.fault['CFSR'])}, it held {hx(stop.cfsr_before)} before the fault: "
        "leave CFSR as the fault set it" + w)
    assert stop.memory_kept, f"the refused write changed memory at {hx(addr)}" + w
    assert stop.mpu["CTRL"] == CTRL_ON, f"QEMU's MPU_CTRL is {hx(stop.mpu['CTRL'])}" + w
    check_region(boots, stop.mpu["RBAR"], stop.mpu["RASR"], sc.focus)
    # the report, against QEMU and the model
    assert not rep.mmfsr & ~CFSR_MMFSR, (
        f"the report's MMFSR {hx(rep.mmfsr)} is the whole CFSR: MMFSR is its low byte (SCB_CFSR & "
        f"CFSR_MMFSR_MASK); bits {hx(rep.mmfsr & ~CFSR_MMFSR)} are an earlier bus error's (BFSR)" + w)
    assert rep.mmfsr == mmfsr, f"the report says MMFSR {hx(rep.mmfsr)}, QEMU's CFSR has {hx(mmfsr)}" + w
    if outcome.address is not None:
        assert stop.fault["MMFAR"] == addr, f"QEMU's MMFAR is {hx(stop.fault['MMFAR'])}" + w
        assert rep.address == addr, (f"the report gives address {hx(rep.address)}, the fault was "
                                     f"at {hx(addr)} (MMFAR)" + w)
    else:
        assert stop.fault["MMFAR"] == stop.stale_mmfar, (
            f"QEMU's MMFAR is {hx(stop.fault['MMFAR'])}, not the old address {hx(stop.stale_mmfar)} "
            "the fault left there (MMARVALID clear): leave MMFAR as the fault left it" + w)
        assert rep.stale is None, (
            f"the report's addr is {hx(rep.stale)} although MMARVALID is clear: MMFAR then holds "
            f"an old address ({hx(stop.fault['MMFAR'])}, from before this fault); read SCB_MMFAR "
            "only when MMFSR_MMARVALID is set, else leave addr 0" + w)
        assert rep.address is None, (
            f"the report gives address {hx(rep.address)}, but MMARVALID is clear: MMFAR "
            f"({hx(stop.fault['MMFAR'])}) is stale; print 'address unknown'" + w)
    if sc.stack:
        assert rep.pc is None, ("the report gives a pc after a stacking fault (MSTKERR): the "
                                "frame was never written, so it says nothing" + w)
    else:
        fn = {"read": "user_read_word", "write": "user_write_word"}[access] if who == "user" \
            and access != "exec" else "kern_run"
        if access == "exec":
            ok, desc = rep.pc == addr, f"the target {hx(addr)}"
        else:
            ok, desc = rep.pc is not None and boots.sym.function_at(rep.pc) == fn, \
                f"an instruction of {fn}"
        assert ok, f"the report gives pc {hx(rep.pc)}, expected {desc}" + w
    mode = "unprivileged" if who == "user" else "privileged"
    assert rep.user == (who == "user"), (
        f"the report says {'unprivileged' if rep.user else 'privileged'}; `{stop.command}` runs "
        f"{mode} (CONTROL.nPRIV)" + w)


# ---- the shared boot ---------------------------------------------------------------------
def random_valid_region(rng, size=None, ap=None, srd=None):
    size = size or 1 << rng.randint(5, 31)
    base = rng.randrange(0, 1 << 32, size)
    ap = rng.choice(VALID_APS) if ap is None else ap
    if srd is None:
        srd = rng.getrandbits(8) if size >= model.SRD_MIN_SIZE and rng.random() < 0.5 else 0
    return Region(0, base, size, ap, rng.random() < 0.5, srd)


def encode_command(reg):
    return f"encode {hx(reg.base)} {hx(reg.size)} {reg.ap} {int(reg.xn)} {hx(reg.srd)}"


def parse_encode(out):
    m = re.search(r"rbar 0x([0-9a-f]+) rasr 0x([0-9a-f]+)", out)
    return (int(m[1], 16), int(m[2], 16)) if m else ("refused" if "refused" in out else None)


def encode_edges(r):
    """The valid regions at every limit mpu_encode checks: the smallest size, the
    smallest with subregions, the largest, the last and first AP."""
    return [random_valid_region(r, size=model.MIN_SIZE),
            random_valid_region(r, size=model.SRD_MIN_SIZE, srd=r.randrange(1, 256)),
            random_valid_region(r, size=1 << 31),
            random_valid_region(r, ap=model.AP_RO_ALT),
            random_valid_region(r, ap=model.AP_NONE)]


def impossible_regions(r):
    """(region, why) for every check of mpu_encode, at its limit and at random."""
    size = 1 << r.randint(8, 20)
    arena = model.ARENA_START
    base = r.randrange(1 << 12) * size
    return [
        (Region(0, base + size // 2, size, model.AP_RW, True), "misaligned"),
        (Region(0, base + (r.randrange(1, size // 32) * 32), size, model.AP_RW, True), "misaligned"),
        (Region(0, arena, size + 32 * r.randrange(1, 8), model.AP_RW, True),
         "its size is not a power of two"),
        (Region(0, arena, model.MIN_SIZE // 2, model.AP_RW, False),
         f"its size is under {model.MIN_SIZE} bytes"),
        (Region(0, arena, 1 << r.randint(2, 3), model.AP_RW, False),
         f"its size is under {model.MIN_SIZE} bytes"),
        (Region(0, arena, size, model.AP_RESERVED, True), "AP 4 is reserved"),
        (Region(0, arena, size, 8 + r.randrange(248), True), "AP is above 7"),
        (Region(0, arena, model.SRD_MIN_SIZE // 2, model.AP_RW, True, srd=r.randrange(1, 256)),
         f"subregions need a region of {model.SRD_MIN_SIZE} bytes or more"),
        (Region(0, arena, 1 << r.randint(5, 6), model.AP_RW, True, srd=1 << r.randrange(8)),
         f"subregions need a region of {model.SRD_MIN_SIZE} bytes or more"),
    ]


def why_impossible(reg, why):
    if why != "misaligned":
        return why
    return (f"its base {hx(reg.base)} is not a multiple of its size {hx(reg.size)} "
            f"(base & (size - 1) = {hx(reg.base & (reg.size - 1))}): the MPU would ignore it")


@pytest.mark.points(2)
@verdict
def test_encode_matches_model(boots):
    """mpu_encode gives the model's RBAR and RASR at each limit (32 bytes, subregions at 256, 2 GiB, AP 0 and 7) and for random valid regions."""
    boots.stage("prompt")
    regs = encode_edges(boots.rng) + [random_valid_region(boots.rng) for _ in range(ENCODE_SAMPLES)]
    for reg, out in zip(regs, boots.m.commands([encode_command(r) for r in regs])):
        want = reg.encode()
        got = parse_encode(out)
        hint = rasr_hint(got[1], want[1]) if isinstance(got, tuple) and got[0] == want[0] else ""
        assert got == want, (f"`{encode_command(reg)}` printed {out.strip()!r}; expected rbar "
                             f"{hx(want[0])} rasr {hx(want[1])}{hint}" + boots.where())


@pytest.mark.points(1)
@verdict
def test_encode_refuses_impossible_regions(boots):
    """A misaligned base, a size not a power of two or under 32 bytes, AP 4 or above 7, subregions under 256 bytes: refused, each at its limit."""
    boots.stage("prompt")
    bad = impossible_regions(boots.rng)
    for (reg, why), out in zip(bad, boots.m.commands([encode_command(b) for b, _ in bad])):
        assert not reg.valid()
        assert parse_encode(out) == "refused", (
            f"`{encode_command(reg)}` printed {out.strip()!r}: mpu_encode must refuse it, "
            f"{why_impossible(reg, why)}" + boots.where())


@pytest.mark.points(2)
@verdict
def test_regions_programmed_in_qemu(boots):
    """After `region N ...`, QEMU's MPU holds the model's RBAR and RASR for N, and RNR is left at N."""
    boots.stage("regions")
    L = boots.main
    for reg in L.regions:
        check_region(boots, *region_in_qemu(boots.m, reg.number), reg)
    out = boots.m.command(L.rw.command())  # once more: RNR must be left at the region set
    assert "set" in out, f"`{L.rw.command()}` printed {out.strip()!r}" + boots.where()
    rnr = boots.m.mpu_regs()["RNR"]
    assert rnr == L.rw.number, (f"after `{L.rw.command()}` QEMU's RNR is {rnr}, expected "
                                f"{L.rw.number} (mpu_region_set leaves RNR = n)" + boots.where())


def check_refused(boots, m, calls, before):
    """Each of `calls` [(command, why refused)] must be refused and leave QEMU's MPU as
    `before` (an mpu_state()) holds it: CTRL, RNR and the region RNR selects after each
    call, every region after the last."""
    where = (". A refused call writes no register (RNR included): check n and the region "
             "before writing any" + boots.where())
    for cmd, why in calls:
        out = m.command(cmd)
        assert "refused" in out, f"`{cmd}` printed {out.strip()!r}: {why}" + boots.where()
        regs = m.mpu_regs()
        now = dict(before, CTRL=regs["CTRL"], RNR=regs["RNR"], regions=list(before["regions"]))
        if regs["RNR"] < model.REGIONS:
            now["regions"][regs["RNR"]] = (regs["RBAR"], regs["RASR"])
        assert now == before, (f"`{cmd}` was refused, yet QEMU's MPU changed: "
                               f"{state_diff(before, now)}" + where)
    after = mpu_state(m)
    assert after == before, (f"after the refused `{'`, `'.join(c for c, _ in calls)}`, QEMU's "
                             f"MPU changed: {state_diff(before, after)}" + where)


PAST_THE_END = (f"the MPU has {model.REGIONS} regions, 0-{model.REGIONS - 1} (MPU_TYPE.DREGION): "
                "refuse n >= DREGION")


def numbers_past_the_end(r):
    """Region numbers mpu_region_set and _clear must refuse: the first, a near one, a far one."""
    return [model.REGIONS, model.REGIONS + 1 + r.randrange(7), r.randrange(16, 1 << 32)]


def edge_refused(boots, E, r, m):
    """The refused `region` calls, on the edge boot (test_refused_region_leaves_hardware)."""
    keep = r.randrange(model.REGIONS)  # RNR before each call: never the number the call names
    n = r.choice([i for i in range(model.REGIONS) if i != keep])
    good = E.regions[keep]
    calls = [(Region(k, good.base, good.size, good.ap, good.xn).command(),
              PAST_THE_END) for k in numbers_past_the_end(r)]
    impossible = impossible_regions(r)
    for bad, why in (impossible[0], r.choice(impossible[1:])):  # misaligned, and one more
        calls.append((Region(n, bad.base, bad.size, bad.ap, bad.xn, bad.srd).command(),
                      f"mpu_encode refuses it: {why_impossible(bad, why)}"))
    m.command(f"select {keep}")
    check_refused(boots, m, calls, mpu_state(m))


@pytest.mark.points(1)
@verdict
def test_refused_region_leaves_hardware(boots):
    """`region N ...` with N = 8 (MPU_TYPE.DREGION), past it, or a region mpu_encode refuses: refused, and CTRL, RNR and every region's RBAR/RASR in QEMU as before."""
    boots.edge_result("refused")


def edge_clear(boots, E, r, m):
    """`region N off` at both ends and past the end, on the edge boot (test_region_off)."""
    before = mpu_state(m)
    want = dict(before, regions=list(before["regions"]))
    cleared = (0, model.REGIONS - 1, r.randrange(1, model.REGIONS - 1))
    for n in cleared:
        out = m.command(f"region {n} off")
        assert re.search(rf"region {n}: off", out), (f"`region {n} off` printed {out.strip()!r}"
                                                     + boots.where())
        rbar, rasr = region_in_qemu(m, n)
        assert (rbar, rasr) == (before["regions"][n][0], 0), (
            f"after `region {n} off` QEMU's region {n} holds RBAR {hx(rbar)} RASR {hx(rasr)}, "
            f"expected RBAR {hx(before['regions'][n][0])} (kept) RASR 0"
            f"{' (the region is still enabled)' if rasr & model.RASR_ENABLE else ''}. "
            "mpu_region_clear writes 0 to RASR of region n, nothing else" + boots.where())
        want["regions"][n] = (rbar, 0)
        E.mpu.clear(n)
    after = mpu_state(m)
    want["RNR"] = after["RNR"]  # the contract leaves RNR open after a clear
    assert after == want, (f"after `region {'/'.join(map(str, cleared))} off` QEMU's MPU differs "
                           f"from what it held, those RASRs = 0 aside: {state_diff(want, after)}. "
                           "mpu_region_clear writes 0 to RASR of region n, nothing else"
                           + boots.where())
    keep = r.randrange(model.REGIONS)
    m.command(f"select {keep}")
    check_refused(boots, m, [(f"region {k} off", PAST_THE_END) for k in numbers_past_the_end(r)],
                  dict(after, RNR=keep))


@pytest.mark.points(1)
@verdict
def test_region_off(boots):
    """`region N off` for N = 0, 7 and one between: RASR = 0 in QEMU, RBAR and the other regions kept; N = 8 and past it: refused, no register changed."""
    boots.edge_result("clear")


@pytest.mark.points(1)
@verdict
def test_mpu_enable(boots):
    """`mpu on` sets CTRL to ENABLE | PRIVDEFENA and SHCSR.MEMFAULTENA, as QEMU shows."""
    boots.stage("on")
    ctrl = boots.m.mpu_regs()["CTRL"]
    assert ctrl == CTRL_ON, f"QEMU's MPU_CTRL is {hx(ctrl)}, expected {hx(CTRL_ON)}" + boots.where()
    shcsr = boots.m.read_word(SHCSR)
    assert shcsr & model.SHCSR_MEMFAULTENA, (f"QEMU's SHCSR is {hx(shcsr)}: MEMFAULTENA clear, so "
                                             "a MemManage fault escalates to HardFault" + boots.where())


@pytest.mark.points(2)
@verdict
def test_user_access_that_works(boots):
    """Unprivileged reads and writes that regions allow return and store what QEMU sees in memory."""
    boots.stage("on")
    L, r = boots.main, boots.rng
    for reg in (L.rw, L.ro):
        run_allowed(boots, boots.m, L.mpu, "user", "read", model.address_in(r, reg))
    run_allowed(boots, boots.m, L.mpu, "user", "write", model.address_in(r, L.rw), r.getrandbits(32))


@pytest.mark.points(1)
@verdict
def test_user_exec_allowed(boots):
    """Unprivileged code runs code from an executable region it may read (the planted function returns its number)."""
    boots.stage("on")
    L = boots.main
    got = run_allowed(boots, boots.m, L.mpu, "user", "exec", L.code_addr)
    assert got == L.imm, (f"user exec {hx(L.code_addr)} returned {hx(got)}; the code planted "
                          f"there returns {hx(L.imm)}" + boots.where())


@pytest.mark.points(2)
@verdict
def test_privileged_background_access(boots):
    """The kernel reads memory in no region (the background map) and a kernel-only region; writes land."""
    boots.stage("on")
    L, r = boots.main, boots.rng
    run_allowed(boots, boots.m, L.mpu, "kern", "read", L.free)
    run_allowed(boots, boots.m, L.mpu, "kern", "read", model.address_in(r, L.prw))
    run_allowed(boots, boots.m, L.mpu, "kern", "write", model.address_in(r, L.prw), r.getrandbits(32))


@pytest.mark.points(1)
@verdict
def test_region_set_while_enabled(boots):
    """A region programmed while the MPU is on takes effect at once: an unprivileged write into it works."""
    boots.stage("on")
    L, r = boots.main, boots.rng
    out = boots.m.command(L.late.command())
    assert "set" in out, f"`{L.late.command()}` printed {out.strip()!r}" + boots.where()
    check_region(boots, *region_in_qemu(boots.m, L.late.number), L.late)
    run_allowed(boots, boots.m, L.mpu, "user", "write", model.address_in(r, L.late), r.getrandbits(32))


def moved_hint(m, old, new):
    """Why moving `old` to `new` stopped the kernel, if QEMU shows the half-written region."""
    raw = getattr(m, "machine", m)
    try:
        regs = raw.mpu_regs()
    except KernelError:
        return ""
    if (regs["RNR"], regs["RBAR"] & model.RBAR_ADDR_MASK, regs["RASR"]) != \
            (old.number, new.base, old.encode()[1]):
        return ""
    return (f": QEMU's region {old.number} then held the new base {hx(new.base)} with the old RASR "
            f"{hx(regs['RASR'])} ({old.size:#x} bytes, no access, execute-never), over the "
            "kernel's own code. mpu_region_set wrote RBAR while the region was still enabled: "
            "switch it off first (RASR = 0), then write RBAR, then RASR")


def edge_moved(boots, E, r, m):
    """A no-access region moved onto the kernel's code, one instruction at a time (test_region_moved_while_enabled)."""
    n = r.randrange(model.FIRST_FREE_REGION, model.REGIONS)
    span = 1 << (boots.sym.by_name["__user_text_start"] - 1).bit_length()  # all kernel code, from 0
    old = Region(n, model.ARENA_START + span * r.randrange((model.ARENA_END - model.ARENA_START) // span),
                 span, model.AP_NONE, True)
    new = Region(n, 0, 1 << r.randint(5, span.bit_length() - 2),
                 r.choice([model.AP_PRW, model.AP_PRW_URO, model.AP_RW]), False)
    out = m.command(old.command())
    assert "set" in out, f"`{old.command()}` printed {out.strip()!r}" + boots.where()
    check_region(boots, *region_in_qemu(m, n), old)
    m.hmp("singlestep on")  # QEMU 7.2: one instruction per translation block
    try:
        out = m.command(new.command())
    except KernelError as e:
        raise KernelError(e.verdict, f"`{new.command()}` (moving {old}) stopped the kernel"
                          f"{moved_hint(m, old, new)}{boots.where()}; {e}") from None
    m.hmp("singlestep off")
    assert "set" in out, f"`{new.command()}` printed {out.strip()!r}" + boots.where()
    check_region(boots, *region_in_qemu(m, n), new)
    E.mpu.set(new)


@pytest.mark.points(1)
@verdict
def test_region_moved_while_enabled(boots):
    """With the MPU on, a no-access region moved onto the kernel's code is switched off before its new base is written: one instruction at a time, the kernel runs on and QEMU holds the new region."""
    boots.edge_result("moved")


def edge_disable(boots, E, r, m):
    """`mpu off` and an access it lets through (test_mpu_disable)."""
    before = mpu_state(m)
    out = m.command("mpu off")
    assert "mpu: off" in out, f"`mpu off` printed {out.strip()!r}" + boots.where()
    after = mpu_state(m)
    assert after["CTRL"] == 0, (f"after `mpu off` QEMU's MPU_CTRL is {hx(after['CTRL'])}, expected 0: "
                                "mpu_disable must clear ENABLE and PRIVDEFENA" + boots.where())
    assert after == dict(before, CTRL=0), (f"`mpu off` changed more than CTRL: "
                                           f"{state_diff(dict(before, CTRL=0), after)}" + boots.where())
    E.mpu.enabled = False
    run_allowed(boots, m, E.mpu, "user", "read", E.free(r))


@pytest.mark.points(1)
@verdict
def test_mpu_disable(boots):
    """`mpu off` leaves CTRL = 0 in QEMU and every region as it was; unprivileged code then reads memory in no region."""
    boots.edge_result("disable")


# ---- fatal scenarios, one fresh boot each ----------------------------------------------------
@pytest.mark.points(2)
@verdict
def test_user_read_no_access_region_faults(boots):
    """An unprivileged read of a region without unprivileged rights: DACCVIOL, MMFAR = the address."""
    check_fault(boots, "user_read_noaccess")


@pytest.mark.points(2)
@verdict
def test_user_write_no_access_region_faults(boots):
    """An unprivileged write to a region without unprivileged rights: DACCVIOL, memory unchanged."""
    check_fault(boots, "user_write_noaccess")


@pytest.mark.points(2)
@verdict
def test_user_write_read_only_region_faults(boots):
    """Unprivileged code reads a read-only region, and its write there faults (DACCVIOL)."""
    check_fault(boots, "user_write_readonly")


@pytest.mark.points(1)
@verdict
def test_kernel_write_read_only_region_faults(boots):
    """Privileged code is refused a write to a region read-only for everybody, and the report says privileged."""
    check_fault(boots, "kernel_write_readonly")


@pytest.mark.points(2)
@verdict
def test_exec_never_region_faults(boots):
    """Running code in an execute-never region: IACCVIOL, no valid address (MMFAR stale), pc = the target."""
    check_fault(boots, "exec_never")


@pytest.mark.points(2)
@verdict
def test_user_background_access_faults(boots):
    """Memory in no region: the kernel reads it (background map), unprivileged code faults."""
    check_fault(boots, "user_background")


@pytest.mark.points(1)
@verdict
def test_overlap_higher_region_wins(boots):
    """A higher-numbered small region inside a larger read-write one takes away the write where they overlap."""
    check_fault(boots, "overlap_higher_wins")


@pytest.mark.points(1)
@verdict
def test_disabled_subregion_falls_through(boots):
    """A disabled subregion is not part of its region: unprivileged reads there fault, privileged ones work."""
    check_fault(boots, "subregion_disabled")


@pytest.mark.points(1)
@verdict
def test_stacking_fault_has_no_frame(boots):
    """An exception whose frame cannot be pushed: MSTKERR, and the report claims neither address nor pc."""
    check_fault(boots, "stacking_fault")
