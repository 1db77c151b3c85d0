"""The kit's grading harness: QEMU machines, QEMU's view of them, and models.

Names are loaded on first use, so `from harness import config` (grade.py,
before it starts make) does not wait for pexpect and the models to import."""
import importlib

_SUBMODULES = {"config", "machine", "paging", "pool", "qemulog", "regs", "symbols"}
_NAMES = {"Machine": "machine", "KernelError": "machine", "MachinePool": "pool",
          "kernel_elf": "config", "kernel_iso": "config", "new_rng": "config"}

__all__ = ["Machine", "MachinePool", "KernelError", "config", "paging", "qemulog", "symbols", "kernel_elf",
           "kernel_iso", "new_rng"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
