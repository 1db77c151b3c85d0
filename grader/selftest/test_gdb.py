"""A TA's gdb reaches a lab kernel: 64-bit from the first instruction, kernel
symbols, and QEMU's registers through `monitor`."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from harness import Machine, config


def test_gdb_stops_in_64bit_c_and_reads_cr3(smoke_iso, tmp_path):
    """gdb breaks in lab_main (64-bit C) and its $cr3 equals QEMU's CR3."""
    sock = tmp_path / "gdb.sock"
    elf = smoke_iso.parent / "kernel.elf"
    m = Machine("smoke", iso=smoke_iso,
                extra_args=["-gdb", f"unix:{sock},server=on,wait=off", "-S"])
    try:
        m.hmp("info status")  # QEMU's main loop runs, so its gdb socket exists
        # the Makefile's `gdb` target, in batch mode
        r = subprocess.run(
            ["gdb", "-q", "-nx", "-batch", "-ex", "set architecture i386:x86-64",
             "-ex", f"file {elf}", "-ex", f"target remote {sock}", "-ex", "break lab_main",
             "-ex", "continue", "-ex", "p/x $cr3", "-ex", "p $pc",
             "-ex", "monitor info registers"],
            capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        assert "Breakpoint 1, lab_main" in out, out
        gdb_cr3 = int(re.search(r"\$1 = (0x[0-9a-f]+)", out).group(1), 16)
        qemu_cr3 = int(re.search(r"CR3=([0-9a-f]+)", out).group(1), 16)
        assert gdb_cr3 == qemu_cr3 != 0
        assert "lab_main" in re.search(r"\$2 = .*", out).group(0)
    finally:
        m.close()


# ---- a TA's session, through the Makefile (issue 17) ---------------------------------

@pytest.fixture(scope="module")
def ta(tmp_path_factory):
    """A student's hand-in of Labs 01-02 (the solutions' files in its starter/) and a short
    TMPDIR (the default socket's path must fit a unix socket's 107 bytes). A submission
    builds into a folder of its own, so make check's builds of the kit never race it."""
    import shutil
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="kit-", dir="/tmp"))
    sub = tmp / "hand-in"
    for lab in ("01-segmentation", "02-page-fault"):
        shutil.copytree(config.KIT / "solutions" / lab, sub / "starter" / lab)
    yield tmp, sub
    cksum = subprocess.run(["cksum"], input=str(sub), capture_output=True, text=True).stdout.split()[0]
    for lab in ("01-segmentation", "02-page-fault"):
        shutil.rmtree(config.KIT / "build" / lab / f"submission-{cksum}", ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


def ta_session(ta, sock=None):
    """make qemu-gdb LAB=02 SUBMISSION=<hand-in> on one terminal, the make gdb line it
    printed on another (examples_ta.Session), with TMPDIR private to the test."""
    import examples_ta
    tmp, sub = ta
    s = examples_ta.Session(config.KIT, tmp, "ta", "02", (f"SUBMISSION={sub}",), sock)
    s.start()
    return s


def test_break_trap_stops_on_exceptions_only_while_a_command_is_typed(ta):
    """With `break trap` (the exception path) set, typing at lab> key by key stops nothing,
    a command that raises no exception runs to the next prompt, and the one that faults
    stops gdb in trap() with the #PF's frame."""
    s = ta_session(ta, sock=str(ta[0] / "own.sock"))
    try:
        assert s.hint.endswith(f" 'GDB_SOCK={ta[0] / 'own.sock'}'"), s.hint
        assert "Breakpoint 1 at" in s.run_gdb("break trap")
        s.send_gdb("continue")
        out, stopped = s.type_serial("help", True, pace=0.03)  # raises if gdb stops on a key
        assert not stopped and "fault" in out, (out, stopped)
        out, stopped = s.type_serial("fault write 0xdeadbeaf", True, pace=0.03)
        assert re.search(r"Breakpoint 1, trap \(tf=0x[0-9a-f]+\)", stopped), stopped
        assert re.search(r"= 14\b", s.run_gdb("print tf->vector")), "trap stopped on another vector"
        assert re.search(r"cr2\s+0x0*deadbeaf", s.run_gdb("kit frame"))
    finally:
        s.close()


def test_qemu_gdb_prints_the_make_gdb_line_of_its_submission_and_socket(ta):
    """make qemu-gdb SUBMISSION=<dir> names SUBMISSION (absolute) in its make gdb line, and
    the default socket it names is where QEMU listens: that line's gdb connects at the reset
    vector with the hand-in's kernel. Without QEMU, make gdb says so."""
    tmp, sub = ta
    s = ta_session(ta)
    try:
        assert s.hint == f"make gdb LAB=02 'SUBMISSION={sub}'", s.hint
        assert Path(s.sock).is_socket() and Path(s.sock).parent == tmp / f"kit-{os.getuid()}"
        assert "0x000000000000fff0 in ?? ()" in s.connect_out, s.connect_out
        assert "/submission-" in s.run_gdb("info files"), "gdb did not load the hand-in's kernel"
    finally:
        s.close()
    r = subprocess.run(["make", "-s", "-C", str(config.KIT), "gdb", "LAB=02", f"SUBMISSION={sub}"],
                       env=dict(os.environ, TMPDIR=str(tmp)), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "no QEMU waits on" in r.stdout + r.stderr, r.stdout + r.stderr
