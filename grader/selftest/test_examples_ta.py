"""The TA guide's example runner (grader/examples_ta.py) without a machine: what it
counts as an example, how it compares output in shape, and that it can fail."""
from pathlib import Path

import examples_ta as ta

KIT = Path(__file__).resolve().parents[2]

GUIDE = """# Guide

Type `kit gdt 0x2b` or `kit walk VA` (a placeholder: not an example).

```
(gdb) kit idt 8
vector 8 #DF  raw lo 0x80208e0100082b37 hi 0x00000000ffffffff
```

<!-- example: not run: needs a printer -->
```
(gdb) kit print
```

```
(gdb) kit unknown
```
"""


def test_examples_are_blocks_and_concrete_commands_with_their_markers():
    ex = ta.parse(GUIDE)
    assert [(e.line, e.kind, e.text.splitlines()[0]) for e in ex] == [
        (3, "command", "kit gdt 0x2b"), (5, "gdb session", "(gdb) kit idt 8"),
        (11, "gdb session", "(gdb) kit print"), (15, "gdb session", "(gdb) kit unknown")]
    assert ex[2].not_run == "needs a printer" and not ex[3].not_run


def test_a_block_no_recipe_runs_is_not_covered():
    ex = ta.parse(GUIDE)
    runs = ta.covered(ex, [ta.Recipe("r", "02", steps=[ta.block("(gdb) kit idt 8"), ta.inline("kit gdt 0x2b")])])
    assert {e.line for e in ex if id(e) in runs} == {3, 5}


def test_every_example_of_the_real_guide_is_run_or_marked():
    ex = ta.parse((KIT / "handouts" / "ta-guide.md").read_text())
    runs = ta.covered(ex)
    loose = [e.line for e in ex if id(e) not in runs and not e.not_run]
    assert not loose, f"ta-guide.md lines no recipe runs: {loose}"
    assert sum(bool(e.not_run) for e in ex) <= len(ex) // 10, "fewer than 90% of the examples run"


def test_shape_addresses_vary_text_and_counts_do_not():
    want = "vector 8 #DF  raw lo 0x80208e0100082b37 hi 0x00000000ffffffff\n    8 #DF  0xffffffff80202b37 trap_vector8"
    assert ta.compare(want, "vector 8 #DF raw lo 0x1 hi 0x2\n  8 #DF   0xffff trap_vector8\n") == ""
    assert ta.compare(want, "vector 9 #DF raw lo 0x1 hi 0x2\n  8 #DF 0xffff trap_vector8") != ""  # a count
    assert ta.compare(want, "vector 8 #DF raw lo 0x1 hi 0x2\n  8 #DF 0xffff trap_vector9") != ""  # a name
    # lines follow each other unless `...` stands between them
    assert ta.compare("a 1\nb 2", "a 1\nx\nb 2") != ""
    assert ta.compare("a 1\n...\nb 2", "a 1\nx\nb 2") == ""
    assert ta.compare("a 1 ...", "a 1 and more") == ""
    assert ta.compare("at /work/main/labs/x.c:58", "at /elsewhere/labs/x.c:91") == ""
    assert ta.compare("PT[2] x", "PT[  3] x", vary=ta.INDEX) == ""
    assert ta.compare("PT[2] x", "PT[  3] x") != ""


def test_an_address_printed_earlier_is_typed_as_this_build_prints_it():
    bound = {}
    assert ta.compare("alloc 0x7fde000", "alloc 0x7fd0000", bound=bound) == ""
    assert ta.substitute("map 0x7f0000201000 0x7fde000 0x2", bound) == "map 0x7f0000201000 0x7fd0000 0x2"
