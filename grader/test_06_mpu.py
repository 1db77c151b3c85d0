"""Lab 6 (bonus): memory protection without paging, the Cortex-M3 MPU.

The kernel runs on QEMU's mps2-an385 (harness_arm.ArmMachine). Every region
(number, base, size, rights) and every address comes from this run's random
seed and is typed at the kernel's `lab> ` prompt. What the kernel prints is
compared with QEMU's own view, never taken at its word: the MPU registers
(RBAR/RASR of the region RNR selects, CTRL) and the fault registers (CFSR,
MMFAR) read through QEMU's monitor, QEMU's record of each exception (-d int:
"...with CFSR.DACCVIOL and MMFAR 0x..."), memory read by QEMU, the kernel
ELF's symbols, and the grader's model of region matching and permissions
(models/mpu.py).

Boots, started together at module setup: "main", shared by the checks that
do not stop the kernel, and one fresh boot per fatal scenario.
"""
import functools
import re

import pytest

from harness import KernelError, config
from harness_arm import SHCSR, ArmPool, elf, load_symbols
from models import mpu as model
from models.mpu import Region

LAB = "06-mpu"
WORD = 0xFFFFFFFF


def hx(v):
    return f"0x{v:x}"


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


# ---- what each boot does -----------------------------------------------------------
class Scenario:
    """One fatal boot: regions, accesses that must work, then the one that must fault."""

    def __init__(self, regions, fatal, before=(), plant=None, stack=False):
        self.regions = regions        # [Region]
        self.before = list(before)    # [(who, access, addr)] that must succeed first
        self.fatal = fatal            # (who, access, addr)
        self.plant = plant            # (addr, word) written before `mpu on`
        self.stack = stack            # the fatal access is `user stack ADDR`
        self.mpu = model.Mpu(enabled=True)
        for r in regions:
            self.mpu.set(r)
        # the region QEMU's RBAR/RASR show at the stop (selected before the fault)
        self.focus = self.mpu.match(fatal[2]) or regions[-1]


def _numbers(rng, k):
    return rng.sample(range(model.FIRST_FREE_REGION, model.REGIONS), k)


def _slots(rng, k):
    return rng.sample(range((model.ARENA_END - model.ARENA_START) // model.SLOT), k)


def choose_scenarios(rng):
    r = rng
    s = {}
    # unprivileged read / write of a region unprivileged code may not touch
    for name, access in (("user_read_noaccess", "read"), ("user_write_noaccess", "write")):
        (n,), (slot,) = _numbers(r, 1), _slots(r, 1)
        reg = model.random_region(r, slot, n, r.choice([model.AP_NONE, model.AP_PRW, model.AP_PRO]),
                                  r.random() < 0.5)
        s[name] = Scenario([reg], ("user", access, model.address_in(r, reg)))
    # unprivileged write to a region it may read
    (n,), (slot,) = _numbers(r, 1), _slots(r, 1)
    reg = model.random_region(r, slot, n, r.choice([model.AP_PRW_URO, model.AP_RO, model.AP_RO_ALT]),
                              True)
    s["user_write_readonly"] = Scenario([reg], ("user", "write", model.address_in(r, reg)),
                                        before=[("user", "read", model.address_in(r, reg))])
    # privileged write to a region read-only for everybody
    (n,), (slot,) = _numbers(r, 1), _slots(r, 1)
    reg = model.random_region(r, slot, n, r.choice([model.AP_PRO, model.AP_RO]), True)
    s["kernel_write_readonly"] = Scenario([reg], ("kern", "write", model.address_in(r, reg)),
                                          before=[("kern", "read", model.address_in(r, reg))])
    # execution from an execute-never region the job may read
    (n,), (slot,) = _numbers(r, 1), _slots(r, 1)
    reg = model.random_region(r, slot, n, r.choice([model.AP_PRW_URO, model.AP_RW, model.AP_RO]),
                              True)
    code = model.address_in(r, reg)
    s["exec_never"] = Scenario([reg], ("user", "exec", code), before=[("user", "read", code)],
                               plant=(code, model.thumb_return(r.randrange(256))))
    # no region: the background map serves privileged code only
    (n,), slots = _numbers(r, 1), _slots(r, 2)
    reg = model.random_region(r, slots[0], n, model.AP_RW, True)
    addr = model.free_address(r, [slots[0]])
    s["user_background"] = Scenario([reg], ("user", "read", addr),
                                    before=[("kern", "read", addr), ("user", "read",
                                                                      model.address_in(r, reg))])
    # overlap: the higher-numbered region decides
    lo, hi = sorted(_numbers(r, 2))
    (slot,) = _slots(r, 1)
    big = model.random_region(r, slot, lo, model.AP_RW, True, min_log2=13, max_log2=16)
    size = 1 << r.randint(8, 11)
    small = Region(hi, big.base + size * r.randrange(big.size // size), size,
                   r.choice([model.AP_NONE, model.AP_PRW, model.AP_PRO]), True)
    outside = next(a for a in iter(lambda: model.address_in(r, big), None) if not small.covers(a))
    s["overlap_higher_wins"] = Scenario([big, small], ("user", "write", model.address_in(r, small)),
                                        before=[("user", "write", outside)])
    # subregions: a disabled eighth falls through to the background map
    (n,), (slot,) = _numbers(r, 1), _slots(r, 1)
    off = r.sample(range(model.SUBREGIONS), r.randint(1, 4))
    srd = sum(1 << i for i in off)
    reg = model.random_region(r, slot, n, model.AP_RW, True, min_log2=10, srd=srd)
    on = [i for i in range(model.SUBREGIONS) if i not in off]
    hole = model.address_in(r, reg, off)
    s["subregion_disabled"] = Scenario(
        [reg], ("user", "read", hole),
        before=[("user", "read", model.address_in(r, reg, on)), ("kern", "read", hole)])
    # stacking: an exception's frame cannot be pushed
    (n,), (slot,) = _numbers(r, 1), _slots(r, 1)
    reg = model.random_region(r, slot, n, r.choice([model.AP_NONE, model.AP_PRW]), True,
                              min_log2=9)
    sp = reg.base + 8 * r.randrange(8, reg.size // 8)
    s["stacking_fault"] = Scenario([reg], ("user", "stack", sp), stack=True)
    return s


class MainLayout:
    """The shared boot's regions: one of each kind, in distinct slots and numbers."""

    def __init__(self, rng):
        r = rng
        nums, slots = _numbers(r, 6), _slots(r, 7)
        self.rw = model.random_region(r, slots[0], nums[0], model.AP_RW, True)
        self.ro = model.random_region(r, slots[1], nums[1], r.choice([model.AP_PRW_URO, model.AP_RO]),
                                      True)
        self.code = model.random_region(r, slots[2], nums[2],
                                        r.choice([model.AP_PRW_URO, model.AP_RW, model.AP_RO]), False)
        self.prw = model.random_region(r, slots[3], nums[3], model.AP_PRW, True)
        self.spare = model.random_region(r, slots[4], nums[4], model.AP_RW, True)
        self.late = model.random_region(r, slots[5], nums[5], model.AP_RW, True)  # set after `mpu on`
        self.regions = [self.rw, self.ro, self.code, self.prw, self.spare]
        self.free = model.free_address(r, slots[:6])
        self.imm = r.randrange(256)
        self.code_addr = model.address_in(r, self.code)
        self.mpu = model.Mpu(enabled=True)
        for reg in self.regions + [self.late]:
            self.mpu.set(reg)


class Boots:
    def __init__(self, pool):
        path = elf(LAB)
        if not path.exists():
            raise KernelError("build", f"no kernel ELF {path}: the lab did not build")
        self.sym = load_symbols(path)
        self.rng = config.new_rng(LAB)
        self.seed = self.rng.seed_value
        self.main = MainLayout(self.rng)
        self.scenarios = choose_scenarios(self.rng)
        pool.start("main", LAB, seed=self.rng.getrandbits(32))
        for name in self.scenarios:
            pool.start(name, LAB, seed=self.rng.getrandbits(32))
        self.pool = pool
        self._stages = {}
        # All boot together; wait for each prompt now (a verdict is kept for its test).
        self._prompts = {}
        for name in ["main", *self.scenarios]:
            try:
                self._prompts[name] = (pool[name].wait_prompt(), None)
            except KernelError as e:
                self._prompts[name] = (None, e)

    def prompt(self, name):
        """What boot `name` printed before its first prompt; its boot verdict if it failed."""
        text, err = self._prompts[name]
        if err is not None:
            raise err.with_traceback(None)  # a fresh traceback each time it is re-raised
        return text

    def where(self):
        return f" (seed {self.seed}: KIT_SEED={self.seed} repeats this run)"

    # -- the shared boot, in stages each test asks for; a stage's failure is
    #    every later test's failure, with the same verdict --
    def stage(self, name):
        if name not in self._stages:
            try:
                self._stages[name] = (getattr(self, "_" + name)(), None)
            except KernelError as e:
                self._stages[name] = (None, e)
        value, err = self._stages[name]
        if err is not None:
            raise err.with_traceback(None)
        return value

    def _prompt(self):
        return self.prompt("main")

    def _regions(self):
        self.stage("prompt")
        m, L = self.pool["main"], self.main
        outs = m.commands([reg.command() for reg in L.regions])
        for reg, out in zip(L.regions, outs):
            assert "set" in out, f"`{reg.command()}` was refused: {out.strip()!r}" + self.where()
        m.command(f"kern write {hx(L.code_addr)} {hx(model.thumb_return(L.imm))}")
        return outs

    def _on(self):
        self.stage("regions")
        return self.pool["main"].command("mpu on")


@pytest.fixture(scope="module")
def boots():
    pool = ArmPool()
    try:
        yield Boots(pool)
    finally:
        pool.close()


# ---- checks shared by the fatal scenarios ----------------------------------------------
def qemu_region(m, number):
    """(RBAR, RASR) of region `number` as QEMU holds them (after the kit's `select`)."""
    m.command(f"select {number}")
    regs = m.mpu_regs()
    return regs["RBAR"], regs["RASR"]


def check_region_in_qemu(boots, m, reg):
    rbar, rasr = qemu_region(m, reg.number)
    want_rbar, want_rasr = reg.hardware()
    assert (rbar, rasr) == (want_rbar, want_rasr), (
        f"{reg}: QEMU's MPU holds RBAR {hx(rbar)} RASR {hx(rasr)}, expected RBAR {hx(want_rbar)} "
        f"RASR {hx(want_rasr)} (models/mpu.py)" + boots.where())


def access_command(who, access, addr, value=None):
    if access == "write":
        return f"{who} write {hx(addr)} {hx(value)}"
    return f"{who} {access} {hx(addr)}"


def expected_pc(boots, who, access, addr):
    """(description, predicate) for the stacked pc of a faulting access."""
    if access == "exec":
        return hx(addr), lambda pc: pc == addr
    fn = {("user", "read"): "user_read_word", ("user", "write"): "user_write_word",
          ("kern", "read"): "kern_run", ("kern", "write"): "kern_run"}[(who, access)]
    return f"an instruction of {fn}", lambda pc: boots.sym.function_at(pc) == fn


def run_scenario(boots, name):
    """Boot `name`, program its regions, run its accesses; return (machine, report, outcome)."""
    sc = boots.scenarios[name]
    m = boots.pool[name]
    boots.prompt(name)
    cmds = [reg.command() for reg in sc.regions]
    if sc.plant:
        cmds.append(f"kern write {hx(sc.plant[0])} {hx(sc.plant[1])}")
    cmds.append("mpu on")
    outs = m.commands(cmds)
    for cmd, out in zip(cmds, outs):
        if cmd.startswith("region"):
            assert "set" in out, f"`{cmd}` was refused: {out.strip()!r}" + boots.where()
    for who, access, addr in sc.before:
        value = boots.rng.getrandbits(32)
        out = m.command(access_command(who, access, addr, value))
        got = model.parse_access(out)
        why = sc.mpu.check(addr, access, who == "kern").why
        assert got, f"`{access_command(who, access, addr, value)}` printed no result: {out.strip()!r}" \
            + f"\n  (it must work: {why})" + boots.where()
        if access == "read":
            real = m.read_word(addr)
            assert got[3] == real, (f"{who} read {hx(addr)} gave {hx(got[3])}, but QEMU reads "
                                    f"{hx(real)} there" + boots.where())
    m.command(f"select {sc.focus.number}")
    who, access, addr = sc.fatal
    value = boots.rng.getrandbits(32)
    before_write = m.read_word(addr) if access == "write" else None
    cmd = f"user stack {hx(addr)}" if sc.stack else access_command(who, access, addr, value)
    try:
        out = m.command_fatal(cmd)
    except KernelError as e:
        if e.verdict == "hang":
            outcome = sc.mpu.check(addr, access, who == "kern")
            raise KernelError(e.verdict, f"`{cmd}` must fault ({outcome.why}), and the MemManage "
                              "handler must report it and stop; " + str(e)) from None
        raise
    if "EXCEPTION 3 HardFault" in out:
        pytest.fail(f"`{cmd}` ended in a HardFault, not in memmanage_handler:\n{out.strip()}"
                    + boots.where(), pytrace=False)
    report = model.parse_report(out)
    assert report, (f"`{cmd}` stopped the kernel without a MEMMANAGE report "
                    f"(mm_report):\n{out.strip()[-600:]}" + boots.where())
    if before_write is not None:
        assert m.read_word(addr) == before_write, (
            f"the refused write changed memory at {hx(addr)} (QEMU reads {hx(m.read_word(addr))})")
    if sc.stack:
        return m, report, model.Outcome(False, model.MSTKERR, None, sc.regions[0],
                                        "the exception frame cannot be pushed there")
    return m, report, sc.mpu.check(addr, access, who == "kern")


def check_fault(boots, name):
    """The whole verdict of a fatal scenario: model, QEMU's registers and record, the report."""
    sc = boots.scenarios[name]
    m, rep, outcome = run_scenario(boots, name)
    who, access, addr = sc.fatal
    assert not outcome.allowed, f"grader bug: {name} expects a fault but the model allows it"
    w = boots.where()
    # QEMU's record of the exception: the fault and the flags it set at that moment
    excs = [e for e in m.arm_exceptions() if e.vector == 4 or e.cfsr_flags]
    want_flags = {n for bit, n in model.MMFSR_NAMES.items() if outcome.mmfsr & bit and n != "MMARVALID"}
    assert excs, f"QEMU recorded no MemManage fault, yet the kernel reported one" + w
    got_flags = excs[0].cfsr_flags
    assert want_flags <= got_flags, (f"QEMU recorded a fault with {sorted(got_flags)}, expected "
                                     f"{sorted(want_flags)}: {outcome.why}; QEMU: {excs[0]}" + w)
    if outcome.address is not None:
        assert excs[0].mmfar == addr, f"QEMU recorded MMFAR {excs[0].mmfar}, expected {hx(addr)}" + w
    # QEMU's registers now
    regs = m.fault_regs()
    mmfsr = regs["CFSR"] & 0xFF
    assert mmfsr == outcome.mmfsr, (f"CFSR's MMFSR is {hx(mmfsr)} ({model.mmfsr_text(mmfsr)}) in "
                                    f"QEMU, expected {hx(outcome.mmfsr)} "
                                    f"({model.mmfsr_text(outcome.mmfsr)}): {outcome.why}; did the "
                                    "handler clear it?" + w)
    assert regs["SHCSR"] & model.SHCSR_MEMFAULTENA, "SHCSR.MEMFAULTENA is clear in QEMU" + w
    # the report against QEMU and the model
    assert rep.mmfsr == mmfsr, (f"the report says MMFSR {hx(rep.mmfsr)}, QEMU's CFSR has "
                                f"{hx(mmfsr)}" + w)
    if outcome.address is not None:
        assert regs["MMFAR"] == addr, f"QEMU's MMFAR is {hx(regs['MMFAR'])}, expected {hx(addr)}" + w
        assert rep.address == addr, (f"the report gives address {rep.address and hx(rep.address)}, "
                                     f"the fault was at {hx(addr)} (MMFAR {hx(regs['MMFAR'])})" + w)
    else:
        assert rep.address is None, (
            f"the report gives address {hx(rep.address)}, but MMARVALID is clear: MMFAR "
            f"({hx(regs['MMFAR'])}) is stale; print 'address unknown'" + w)
    if sc.stack:
        assert rep.pc is None, ("the report gives a pc after a stacking fault (MSTKERR): the "
                                "frame was never written, so it says nothing" + w)
    else:
        desc, ok = expected_pc(boots, who, access, addr)
        assert rep.pc is not None and ok(rep.pc), (
            f"the report gives pc {rep.pc and hx(rep.pc)}, expected {desc}" + w)
    assert rep.user == (who == "user"), (
        f"the report says {'unprivileged' if rep.user else 'privileged'}, but the access came "
        f"from {'unprivileged' if who == 'user' else 'privileged'} code" + w)
    # the MPU QEMU holds is the one the grader asked for
    mpu = m.mpu_regs()
    want = model.CTRL_ENABLE | model.CTRL_PRIVDEFENA
    assert mpu["CTRL"] == want, f"QEMU's MPU_CTRL is {hx(mpu['CTRL'])}, expected {hx(want)}" + w
    want_rbar, want_rasr = sc.focus.hardware()
    assert (mpu["RBAR"], mpu["RASR"]) == (want_rbar, want_rasr), (
        f"{sc.focus}: QEMU's MPU holds RBAR {hx(mpu['RBAR'])} RASR {hx(mpu['RASR'])}, expected "
        f"RBAR {hx(want_rbar)} RASR {hx(want_rasr)} (models/mpu.py)" + w)


# ---- the shared boot ----------------------------------------------------------------
def random_valid_region(rng):
    log2 = rng.randint(5, 31)
    size = 1 << log2
    base = rng.randrange(0, 1 << 32, size)
    ap = rng.choice([a for a in range(8) if a != model.AP_RESERVED])
    srd = rng.getrandbits(8) if size >= model.SRD_MIN_SIZE and rng.random() < 0.5 else 0
    return Region(0, base, size, ap, rng.random() < 0.5, srd)


def encode_command(reg):
    return f"encode {hx(reg.base)} {hx(reg.size)} {reg.ap} {int(reg.xn)} {hx(reg.srd)}"


def parse_encode(out):
    m = re.search(r"rbar 0x([0-9a-f]+) rasr 0x([0-9a-f]+)", out)
    return (int(m[1], 16), int(m[2], 16)) if m else ("refused" if "refused" in out else None)


@pytest.mark.points(2)
@verdict
def test_encode_matches_model(boots):
    """mpu_encode gives the model's RBAR and RASR for random valid regions (SIZE is log2-1)."""
    boots.stage("prompt")
    regs = [random_valid_region(boots.rng) for _ in range(12)]
    outs = boots.pool["main"].commands([encode_command(r) for r in regs])
    for reg, out in zip(regs, outs):
        got, want = parse_encode(out), reg.encode()
        assert got == want, (f"`{encode_command(reg)}` printed {out.strip()!r}; expected rbar "
                             f"{hx(want[0])} rasr {hx(want[1])}" + boots.where())


@pytest.mark.points(1)
@verdict
def test_encode_refuses_impossible_regions(boots):
    """A misaligned base, a size not a power of two or under 32 bytes, AP 4, subregions under 256 bytes: refused."""
    boots.stage("prompt")
    r = boots.rng
    size = 1 << r.randint(8, 20)
    bad = [
        Region(0, (r.randrange(1, 1 << 12) * size + size // 2) & 0xFFFFFFFF, size, model.AP_RW, True),
        Region(0, 0x20100000, size + 32 * r.randrange(1, 8), model.AP_RW, True),
        Region(0, 0x20100000, 1 << r.randint(2, 4), model.AP_RW, False),
        Region(0, 0x20100000, size, model.AP_RESERVED, True),
        Region(0, 0x20100000, 1 << r.randint(5, 7), model.AP_RW, True, srd=1 << r.randrange(8)),
    ]
    outs = boots.pool["main"].commands([encode_command(b) for b in bad])
    for reg, out in zip(bad, outs):
        assert not reg.valid()
        assert parse_encode(out) == "refused", (f"`{encode_command(reg)}` printed {out.strip()!r}: "
                                                "this cannot be a region, mpu_encode must refuse "
                                                "it" + boots.where())


@pytest.mark.points(2)
@verdict
def test_regions_programmed_in_qemu(boots):
    """After `region N ...`, QEMU's MPU holds the model's RBAR and RASR for N, and RNR is left at N."""
    boots.stage("regions")
    m, L = boots.pool["main"], boots.main
    for reg in L.regions:
        check_region_in_qemu(boots, m, reg)
    out = m.command(L.rw.command())  # once more: RNR must be left at the region set
    assert "set" in out, f"`{L.rw.command()}` printed {out.strip()!r}" + boots.where()
    rnr = m.mpu_regs()["RNR"]
    assert rnr == L.rw.number, (f"after `{L.rw.command()}` QEMU's RNR is {rnr}, expected "
                                f"{L.rw.number} (mpu_region_set leaves RNR = n)" + boots.where())


@pytest.mark.points(1)
@verdict
def test_refused_region_leaves_hardware(boots):
    """A misaligned region or a region number past MPU_TYPE.DREGION is refused and the MPU is unchanged."""
    boots.stage("regions")
    m, L = boots.pool["main"], boots.main
    bad = Region(L.rw.number, L.rw.base + L.rw.size // 2, L.rw.size, model.AP_NONE, False)
    out = m.command(bad.command())
    assert "refused" in out, f"`{bad.command()}` (misaligned) printed {out.strip()!r}" + boots.where()
    check_region_in_qemu(boots, m, L.rw)
    beyond = Region(model.REGIONS + boots.rng.randrange(8), L.rw.base, L.rw.size, model.AP_RW, True)
    out = m.command(beyond.command())
    assert "refused" in out, (f"`{beyond.command()}` printed {out.strip()!r}: the MPU has "
                              f"{model.REGIONS} regions" + boots.where())


@pytest.mark.points(1)
@verdict
def test_region_off(boots):
    """`region N off` clears RASR.ENABLE of region N in QEMU's MPU."""
    boots.stage("regions")
    m, L = boots.pool["main"], boots.main
    out = m.command(f"region {L.spare.number} off")
    assert "off" in out, f"`region {L.spare.number} off` printed {out.strip()!r}" + boots.where()
    _, rasr = qemu_region(m, L.spare.number)
    assert not rasr & model.RASR_ENABLE, (f"region {L.spare.number}'s RASR is {hx(rasr)} in QEMU "
                                          "after `off`: still enabled" + boots.where())
    boots.main.mpu.clear(L.spare.number)


@pytest.mark.points(1)
@verdict
def test_mpu_enable(boots):
    """`mpu on` sets CTRL to ENABLE | PRIVDEFENA and SHCSR.MEMFAULTENA, as QEMU shows."""
    boots.stage("on")
    m = boots.pool["main"]
    ctrl = m.mpu_regs()["CTRL"]
    want = model.CTRL_ENABLE | model.CTRL_PRIVDEFENA
    assert ctrl == want, f"QEMU's MPU_CTRL is {hx(ctrl)}, expected {hx(want)}" + boots.where()
    shcsr = m.read_word(SHCSR)
    assert shcsr & model.SHCSR_MEMFAULTENA, (f"QEMU's SHCSR is {hx(shcsr)}: MEMFAULTENA clear, so "
                                             "a MemManage fault escalates to HardFault" + boots.where())


def run_ok(boots, who, access, addr, value=None):
    """Run an access the model allows on the shared boot; return the value printed."""
    m = boots.pool["main"]
    cmd = access_command(who, access, addr, value)
    why = boots.main.mpu.check(addr, access, who == "kern")
    assert why.allowed, f"grader bug: {cmd} is refused by the model: {why.why}"
    try:
        out = m.command(cmd)
    except KernelError as e:
        raise KernelError(e.verdict, f"`{cmd}` must work ({why.why}); {e}") from None
    got = model.parse_access(out)
    assert got, f"`{cmd}` printed {out.strip()!r}" + boots.where()
    return got[3]


@pytest.mark.points(2)
@verdict
def test_user_access_that_works(boots):
    """Unprivileged reads and writes that regions allow return what QEMU sees in memory."""
    boots.stage("on")
    m, L, r = boots.pool["main"], boots.main, boots.rng
    for reg in (L.rw, L.ro):
        addr = model.address_in(r, reg)
        got, real = run_ok(boots, "user", "read", addr), m.read_word(addr)
        assert got == real, (f"user read {hx(addr)} ({reg}) gave {hx(got)}, QEMU reads {hx(real)}"
                             + boots.where())
    addr, value = model.address_in(r, L.rw), r.getrandbits(32)
    run_ok(boots, "user", "write", addr, value)
    real = m.read_word(addr)
    assert real == value, (f"after user write {hx(addr)} {hx(value)} QEMU reads {hx(real)}"
                           + boots.where())


@pytest.mark.points(1)
@verdict
def test_user_exec_allowed(boots):
    """Unprivileged code runs code from an executable region it may read (the planted function returns its number)."""
    boots.stage("on")
    L = boots.main
    got = run_ok(boots, "user", "exec", L.code_addr)
    assert got == L.imm, (f"user exec {hx(L.code_addr)} returned {hx(got)}; the code planted "
                          f"there returns {hx(L.imm)}" + boots.where())


@pytest.mark.points(2)
@verdict
def test_privileged_background_access(boots):
    """The kernel reads memory in no region (the background map) and a kernel-only region; writes land."""
    boots.stage("on")
    m, L, r = boots.pool["main"], boots.main, boots.rng
    for addr in (L.free, model.address_in(r, L.prw)):
        got, real = run_ok(boots, "kern", "read", addr), m.read_word(addr)
        assert got == real, f"kern read {hx(addr)} gave {hx(got)}, QEMU reads {hx(real)}" + boots.where()
    addr, value = model.address_in(r, L.prw), r.getrandbits(32)
    run_ok(boots, "kern", "write", addr, value)
    assert m.read_word(addr) == value, f"kern write {hx(addr)} {hx(value)} did not land" + boots.where()


@pytest.mark.points(1)
@verdict
def test_region_set_while_enabled(boots):
    """A region programmed while the MPU is on takes effect at once: an unprivileged write into it works."""
    boots.stage("on")
    m, L, r = boots.pool["main"], boots.main, boots.rng
    out = m.command(L.late.command())
    assert "set" in out, f"`{L.late.command()}` printed {out.strip()!r}" + boots.where()
    check_region_in_qemu(boots, m, L.late)
    addr, value = model.address_in(r, L.late), r.getrandbits(32)
    run_ok(boots, "user", "write", addr, value)
    assert m.read_word(addr) == value, f"user write {hx(addr)} did not land" + boots.where()


# ---- fatal scenarios, one fresh boot each ---------------------------------------------------
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
