"""The harness gives every kind of broken kernel a clear verdict in bounded
time, reads QEMU's view of the machine, and leaves no QEMU behind."""
import os
import random
import re
import time

import pytest

from harness import KernelError, Machine
from harness.machine import RAM_BYTES
from harness.pool import CANARY_MIN as POOL_CANARY_MIN, MachinePool


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is reaped by pexpect's close; anything else is still running
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] == "Z"


@pytest.fixture
def smoke(smoke_iso):
    started = []

    def start(timeout=20, via="pvh", **params):
        m = Machine("smoke", params=params, iso=smoke_iso, timeout=timeout, via=via)
        started.append(m)
        return m

    yield start
    for m in started:
        m.close()
        assert gone(m.child.pid), "QEMU outlived its test"


@pytest.mark.parametrize("via", ["grub", "pvh"])
def test_monitor_round_trip(smoke, via):
    """A command typed at the prompt runs and its output comes back, through either boot path."""
    m = smoke(via=via)
    m.wait_prompt()
    words = " ".join(f"w{random.getrandbits(32):x}" for _ in range(4))
    assert m.command(f"echo {words}").strip() == words


def test_long_tmpdir_keeps_the_monitor(smoke, tmp_path, monkeypatch):
    """A TMPDIR too deep for a unix socket's 107 bytes (a CI workspace, a batch's
    private folder) still gives a reachable monitor, and nothing left in it."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr("tempfile.tempdir", None)
    m = smoke()
    m.wait_prompt()
    assert len(m.monitor_path) <= 107
    assert "RIP=" in m.hmp("info registers")
    m.close()
    assert not list(deep.iterdir())


def test_params_reach_kernel(smoke):
    """fw_cfg parameters chosen per boot reach the kernel without rebuilding the ISO."""
    seed = random.getrandbits(40)
    m = smoke(seed=seed, test="params_reach_kernel")
    m.wait_prompt()
    out = m.command("params")
    assert f"seed={seed:#x}" in out and "test=params_reach_kernel" in out


def test_cr3_checked_against_qemu(smoke):
    """The kernel's CR3 equals QEMU's, and QEMU sees the core's page tables."""
    m = smoke()
    m.wait_prompt()
    printed = int(re.search(r"cr3 (0x[0-9a-f]+)", m.command("cr3")).group(1), 16)
    r = m.regs()
    assert printed == r.cr3
    assert r.seg["CS"].selector == 0x08 and r.seg["CS"].l == 1 and r.seg["CS"].dpl == 0
    assert m.gva2gpa(0xFFFFFFFF80201000) == 0x201000
    assert m.gva2gpa(0) is None, "page 0 must stay unmapped"


def _pmemsave(m, pa, size, path):
    assert m.hmp(f'pmemsave 0x{pa:x} {size} "{path}"').strip() == ""
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("via", ["grub", "pvh"])
def test_guest_ram_is_qemus_memory(smoke, tmp_path, via):
    """Physical memory read from the shared RAM file is byte for byte what
    QEMU's pmemsave gives (first page, the PML4, the kernel, RAM's last page), a
    line the kernel just read is there at once, the VGA window goes through the
    monitor, and a machine that ended cannot be read."""
    m = smoke(via=via)
    m.wait_prompt()
    assert m.ram is not None, "this machine has memfd and /proc: the guest's RAM should be shared"
    cr3 = m.regs().cr3 & ~0xFFF
    for pa, size in [(0, 4096), (cr3, 4096), (0x100000, 1 << 20), (RAM_BYTES - 4096, 4096)]:
        assert m.ram.covers(pa, size)
        assert m.read_phys(pa, size) == _pmemsave(m, pa, size, tmp_path / "m.bin"), hex(pa)
    word = f"w{random.getrandbits(64):016x}"
    m.command(f"echo {word}")
    assert m.ram.map.find(word.encode()) >= 0, "the kernel's input line is not in the shared RAM"
    assert not m.ram.covers(0xB8000, 4096) and not m.ram.covers(RAM_BYTES - 8, 16)
    assert m.read_phys(0xB8000, 4096) == _pmemsave(m, 0xB8000, 4096, tmp_path / "v.bin")
    m.kill()
    deadline = time.monotonic() + 5
    while m.child.isalive() and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(KernelError):
        m.read_phys(cr3, 8)


def test_fault_recorded_by_qemu(smoke):
    """A page fault is reported by the core and recorded by QEMU with the same CR2."""
    m = smoke()
    m.wait_prompt()
    out = m.command_fatal("misbehave fault")
    assert "EXCEPTION 14" in out
    pf = [e for e in m.exceptions() if e.vector == 14]
    assert pf and pf[0].cr2 == 0xDEADBEAF and pf[0].error == 0x2
    assert m.regs().cr2 == 0xDEADBEAF


@pytest.mark.parametrize("how,verdict", [
    ("hang", "hang"), ("triple", "triple-fault"), ("flood", "flood"),
    ("reboot", "reboot"), ("panic", "panic"),
])
def test_bad_kernel_verdict(smoke, how, verdict):
    """Each way a kernel goes wrong gets its own verdict within the timeout's bound
    (a hang is judged at the timeout itself: 1 s, while its QEMU spins a host core)."""
    timeout = 1 if how == "hang" else 3
    m = smoke(timeout=timeout, misbehave=how)
    t = time.monotonic()
    with pytest.raises(KernelError) as e:
        m.wait_prompt()
    assert e.value.verdict == verdict, str(e.value)
    assert time.monotonic() - t < timeout + 2
    if verdict == "triple-fault":
        assert "#UD" in str(e.value) and "#DF" in str(e.value), "the exception chain is shown"
    if verdict == "flood":
        assert len(m.raw) < (1 << 20), "the harness stops reading a flood"


def test_exit_code_is_not_success(smoke):
    """A kernel that leaves QEMU with the success code gets no credit, just a verdict."""
    m = smoke()
    m.wait_prompt()
    m.send("exit 0")
    with pytest.raises(KernelError) as e:
        m.expect("never printed", timeout=5)
    assert e.value.verdict == "exited"


def test_machines_in_parallel_do_not_collide(smoke):
    """Machines started together have private sockets and logs."""
    ms = [smoke(seed=i + 1) for i in range(3)]
    for i, m in enumerate(ms):
        m.wait_prompt()
        assert f"seed={i + 1:#x}" in m.command("params")
    assert len({m.monitor_path for m in ms}) == 3
    assert len({m.regs().cr3 for m in ms}) == 1


def test_kprintf_formats_like_c(smoke):
    """kprintf's conversions, widths and padding agree with C's printf for random values."""
    m = smoke()
    m.wait_prompt()
    for v in [0, 1, 0xFFFFFFFF, 0x8000000000000000, random.getrandbits(64), random.getrandbits(31)]:
        i32 = v & 0xFFFFFFFF
        i32 = i32 - (1 << 32) if i32 & (1 << 31) else i32
        i64 = v - (1 << 64) if v & (1 << 63) else v
        u32 = v & 0xFFFFFFFF
        expect = (f"d={i32} u={u32} x={u32:x} lx={v:x} ld={i64} p=0x{v:016x} 08x={u32:08x} "
                  f"5d={int(v % 100000):5d} 016lx={v:016x} s={hex(v) if v > 9 else str(v)} "
                  f"c={chr(65 + v % 26)} -6s=ab    |")
        arg = hex(v) if v > 9 else str(v)
        assert m.command(f"fmt {arg}").strip() == expect


@pytest.mark.parametrize("first", ["stub", "late-stub", None])
def test_pool_boots_the_rest_once_the_first_gets_past_its_stubs(smoke_iso, first):
    """Of a pool's PVH boots of one lab, one starts first (the canary). If the first line it
    prints after the banner is a stub's panic, the others never start and each gives that stub's
    verdict; a stub after a line of the kernel's own, or none, starts them all."""
    class SmokeMachine(Machine):
        def __init__(self, lab, params=None, **kw):
            super().__init__(lab, params=params, iso=smoke_iso, timeout=5, **kw)

    pool = MachinePool()
    pool.machine = SmokeMachine
    names = ["canary"] + [f"m{i}" for i in range(POOL_CANARY_MIN)]
    pool.start_many([("canary", "smoke", {"misbehave": first} if first else {})] +
                    [(name, "smoke", {}) for name in names[1:]])
    try:
        assert list(pool.machines) == ["canary"] and all(name in pool for name in names)
        if first == "stub":
            for name in names[1:]:
                with pytest.raises(KernelError) as e:
                    pool[name]
                assert e.value.verdict == "stub" and "smoke_stub (Lab 9) is still a stub" in str(e.value)
        else:
            pool[names[-1]].wait_prompt()
        assert sorted(pool.machines) == (["canary"] if first == "stub" else sorted(names))
    finally:
        pool.close()
