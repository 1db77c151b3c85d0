"""The kit's grading harness: QEMU machines, QEMU's view of them, and models."""
from . import config, paging, qemulog, symbols
from .config import kernel_elf, kernel_iso, new_rng
from .machine import KernelError, Machine
from .pool import MachinePool

__all__ = ["Machine", "MachinePool", "KernelError", "config", "paging", "qemulog", "symbols", "kernel_elf",
           "kernel_iso", "new_rng"]
