"""The handouts' tested examples (grader/examples.py) and the `make qemu` lines they rely on."""
import os
import re
import signal
import subprocess

import pexpect

import examples
from harness import config

KIT = config.KIT
HANDOUT = "handouts/05-map-to.md"


def _built(lab):
    subprocess.run(["make", "-s", "-C", str(KIT), "build", f"LAB={lab}", "SOLUTION=1"], check=True,
                   capture_output=True, timeout=300)


def _session_with(text, needle):
    """The lab session of `text` that holds `needle`."""
    found = [ex for ex in examples.parse(HANDOUT, text) if ex.kind == "lab session" and needle in ex.text]
    assert found, f"the Lab 05 handout has no session holding {needle!r}"
    return found[0]


def test_an_example_that_no_longer_holds_fails():
    """Ex 2's session passes as written, and fails once one printed count is off by one;
    Lab 02's fault report (a boot's output after its make qemu line) fails once its error
    code is off."""
    _built("05-map-to")
    _built("02-page-fault")
    names = examples.test_names(KIT)
    text = (KIT / HANDOUT).read_text()
    ex = _session_with(text, "held 47 frames")
    ok = examples.run_handout(KIT, HANDOUT, names, only={ex.line}, text=text)
    assert [r["status"] for r in ok] == ["run"], ok
    changed = text.replace("held 47 frames", "held 48 frames", 1)
    bad = examples.run_handout(KIT, HANDOUT, names, only={ex.line}, text=changed)
    assert [r["status"] for r in bad] == ["failing"], bad
    assert "held 48 frames" in bad[0]["reason"] and "held 47 frames" in bad[0]["reason"], bad

    lab02 = "handouts/02-page-fault.md"
    text = (KIT / lab02).read_text()
    found = examples.parse(lab02, text)
    report = next(ex for ex in found if ex.kind == "boot output" and "err=0x7" in ex.text)
    make = [ex for ex in found if ex.kind == "make" and "fault=uwrite" in ex.text][-1]
    lines = {make.line, report.line}
    ok = examples.run_handout(KIT, lab02, names, only=lines, text=text)
    assert [r["status"] for r in ok] == ["run", "run"], ok
    changed = text.replace("err=0x7 [protection write user]", "err=0x6 [protection write user]", 1)
    bad = examples.run_handout(KIT, lab02, names, only=lines, text=changed)
    assert [r["status"] for r in bad] == ["run", "failing"], bad
    assert "err=0x6" in bad[1]["reason"], bad


def test_shape_binds_varying_tokens_and_keeps_counts_exact():
    """A varying token matches any value once and the same value after; other text is exact."""
    shape = examples.Shape("0x12a000")
    assert shape.compare(["alloc 0x12a000"], ["alloc 0x33000"]) == ""
    assert shape.substitute("fill 0x12a000 0x1") == "fill 0x33000 0x1"
    assert shape.compare(["frame 0x12a000"], ["frame 0x34000"]) != ""
    assert examples.Shape("").compare(["held 47 frames"], ["held 48 frames"]) != ""
    assert examples.Shape("").compare(["a ...", "..."], ["a b c", "d", "e"]) == ""


def test_markers_are_read_and_unknown_ones_fail():
    """`not run:` is counted with its reason; a marker the runner does not know is a failure."""
    text = ("<!-- example: not run: needs a display -->\n```\nlab> alloc\nalloc 0x1000\n```\n\n"
            "<!-- example: frobnicate -->\n```\nlab> alloc\n```\n")
    found = examples.parse(HANDOUT, text)
    assert [ex.markers.get("not run") for ex in found] == ["needs a display", None]
    assert found[1].problem and not found[0].problem


def _make_qemu(*args, timeout=60):
    return pexpect.spawn("make", ["-s", "-C", str(KIT), "qemu", "SOLUTION=1"] + list(args),
                         timeout=timeout, encoding="utf-8", codec_errors="replace")


def _quit(child):
    """Ctrl-A X; then nothing of the session may be left (QEMU leads no other group)."""
    try:
        child.send("\x01x")
        child.expect(pexpect.EOF, timeout=10)
    finally:
        if child.isalive():
            os.killpg(child.pid, signal.SIGKILL)
        child.close(force=True)
    try:
        os.killpg(child.pid, 0)
        left = True
    except ProcessLookupError:
        left = False
    assert not left, "a process of make qemu outlived Ctrl-A X"


def test_make_qemu_lab05_params_frames_50_and_intlog(tmp_path):
    """make qemu LAB=05 PARAMS="frames=50" INTLOG=path: the prompt comes, the pool holds
    exactly 50 frames, make says where the log goes, and a lazy read's #PF (v=0e) is in it."""
    _built("05-map-to")
    log = tmp_path / "int.log"
    child = _make_qemu("LAB=05", "PARAMS=frames=50", f"INTLOG={log}")
    try:
        child.expect(re.escape(str(log)))
        child.expect(r"lab5: pool (\d+) frames")
        assert child.match.group(1) == "50"
        child.expect("lab> ")
        child.send("alloc\r" * 51)
        got = []
        for _ in range(51):
            child.expect(r"alloc (0x[0-9a-f]+)[^\n]*\n")
            got.append(int(child.match.group(1), 16))
        assert got[-1] == 0, f"the 51st alloc of a 50-frame pool gave {got[-1]:#x}"
        assert 0 not in got[:50] and len(set(got[:50])) == 50, got
        child.send("".join(f"free {f:#x}\r" for f in got[:50]))
        for _ in range(50):
            child.expect("lab> ")
        child.send("read 0xffffc90000003008\r")
        child.expect(r"read 0xffffc90000003008: 0x0+\s*\n")
        child.expect("lab> ")
    finally:
        _quit(child)
    faults = [l for l in log.read_text(errors="replace").splitlines() if "v=0e" in l]
    assert faults and all("CR2=ffffc90000003008" in l for l in faults), faults
