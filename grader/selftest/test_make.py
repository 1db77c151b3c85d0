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
