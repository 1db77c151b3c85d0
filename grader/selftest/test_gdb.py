"""A TA's gdb reaches a lab kernel: 64-bit from the first instruction, kernel
symbols, and QEMU's registers through `monitor`."""
import os
import re
import subprocess

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
