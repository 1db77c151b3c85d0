"""The kit's gdb extension: `kit ...` commands for the machine's protection state.

Loaded by `make gdb` (gdb -x grader/gdb/kit.py), or by hand in any gdb:
    (gdb) source /path/to/kit/grader/gdb/kit.py
Then `help kit`. The commands read QEMU's view through `monitor` (registers,
physical memory) and reuse the grader's models (grader/harness/paging.py,
regs.py); the code is in the kitgdb package beside this file.
"""
import os
import sys

import gdb

HERE = os.path.dirname(os.path.abspath(os.path.expanduser(__file__)))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import kitgdb.commands  # noqa: E402

if not getattr(gdb, "_kit_commands_loaded", False):  # sourcing twice must not register twice
    kitgdb.commands.register()
    gdb._kit_commands_loaded = True
    gdb.write("kit: gdb commands loaded: kit cr|walk|ptdump|gdt|tss|idt|pferr|frame (help kit)\n")
