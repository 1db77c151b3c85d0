"""The Makefile's interactive targets work as the README says."""
import os
import signal

import pexpect

from harness import config


def test_make_qemu_reaches_prompt_and_quits(smoke_iso):
    """`make qemu` shows the lab> prompt, `help` lists commands, Ctrl-A X quits."""
    child = pexpect.spawn("make", ["-s", "-C", str(config.KIT), "qemu", "LAB=smoke"],
                          timeout=30, encoding="utf-8")
    try:
        child.expect("lab> ")
        child.send("help\r")
        child.expect("exit \\[CODE\\]")
        child.expect("lab> ")
        child.send("\x01x")  # Ctrl-A X: QEMU's mux quits
        child.expect(pexpect.EOF, timeout=10)
    finally:
        if child.isalive():
            os.killpg(child.pid, signal.SIGKILL)
        child.close(force=True)


def test_two_grade_runs_at_once_do_not_collide():
    """Two `make grade` runs in one checkout at once both build and grade cleanly
    (Lab 4: four labs' objects to build, three boots a grading; Lab 1's are 12)."""
    import subprocess
    import sys
    lab = next(l for l in config.labs() if l.startswith("04-"))
    cmd = [sys.executable, str(config.KIT / "grader" / "grade.py"), "--quiet", "--solution",
           "--lab", lab]
    runs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for r in runs:
        _, err = r.communicate(timeout=300)
        assert r.returncode == 0, f"a concurrent grade run of {lab} failed:\n{err[-2000:]}"


def test_make_qemu_caps_its_interrupt_log(smoke_iso, tmp_path):
    """`make qemu INTLOG=` stops QEMU once the log reaches its cap (INTLOG_MAX; 256 MiB
    by default, a fault loop writes ~110 MB/s) and says why; the file stops at the cap.
    (From a shell. Python ignores SIGXFSZ and its children inherit that: there QEMU's
    writes past the cap fail and the file stops growing all the same.)"""
    log = tmp_path / "int.log"
    child = pexpect.spawn("make", ["-s", "-C", str(config.KIT), "qemu", "LAB=smoke", f"INTLOG={log}",
                                   "INTLOG_MAX=1024"], timeout=30, encoding="utf-8",
                          preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_DFL))
    try:  # the boot logs ~2.8 KB (the CPU's resets and the firmware's interrupts)
        child.expect(r"kit: QEMU stopped: its interrupt log reached")
        child.expect(pexpect.EOF, timeout=10)
    finally:
        if child.isalive():
            os.killpg(child.pid, signal.SIGKILL)
        child.close(force=True)
    assert child.exitstatus not in (0, None) and log.stat().st_size == 1024
