"""The grader's own models, loaded into gdb's Python by file path.

kit.py runs inside gdb, whose Python has no `harness` package on its path and
should not import the whole harness (QEMU machines, pexpect). The two models
it needs are plain modules, so they are loaded from grader/harness/ directly,
under private names, and never edited here:

  paging   the four-level walk, leaves() and merge() of the address space
  regs     the parser of QEMU's `info registers`
  symbols  the kernel ELF's symbol table (nm), for names that share an address
"""
import importlib.util
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"


def _load(name):
    full = f"kitgdb_harness_{name}"
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.spec_from_file_location(full, HARNESS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[full] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


paging = _load("paging")
regs = _load("regs")
symbols = _load("symbols")
