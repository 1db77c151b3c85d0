"""QEMU's own record of the machine (-d int,cpu_reset): exceptions and resets.

A line per exception or interrupt, written by QEMU's TCG when it delivers it:
     3: v=0e e=0002 i=0 cpl=0 IP=0008:ffffffff80202d9f pc=... SP=0018:ffffffff8020cef0 CR2=00000000deadbeaf
`i=1` marks a software interrupt (int3, int n). A triple fault logs "Triple fault".

A kernel caught in a fault loop makes QEMU write this log at ~110 MB/s, so the
log is capped (LIMIT): the harness gives QEMU RLIMIT_FSIZE at LIMIT and checks
the size while a test runs; past it the verdict is a flood (flood_message).
"""
import re
from dataclasses import dataclass

LIMIT = 16 << 20  # bytes of exception log; no lab's kernel writes a hundredth of it

_EXC = re.compile(
    r"^[ \t]*\d+: v=([0-9a-f]+) e=([0-9a-f]+) i=(\d) cpl=(\d) IP=([0-9a-f]+):([0-9a-f]+) "
    r"pc=[0-9a-f]+ SP=([0-9a-f]+):([0-9a-f]+)(?: CR2=([0-9a-f]+))?", re.M)

NAMES = {0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM",
         8: "#DF", 10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF",
         17: "#AC", 18: "#MC", 19: "#XM"}


@dataclass
class Exc:
    vector: int
    error: int
    software: bool
    cpl: int
    cs: int
    rip: int
    ss: int
    rsp: int
    cr2: int | None

    @property
    def name(self):
        return NAMES.get(self.vector, f"vector {self.vector}")

    def __str__(self):
        s = f"{self.name} (vector {self.vector}) error=0x{self.error:x} at {self.cs:04x}:{self.rip:016x} cpl={self.cpl}"
        if self.cr2 is not None:
            s += f" CR2=0x{self.cr2:x}"
        return s


def exceptions(text):
    """Exceptions and software interrupts, oldest first. Hardware interrupts
    are left out: QEMU logs "Servicing hardware INT=0xNN" just before their
    record, with the same vector (in real mode, the BIOS timer's line comes
    alone, and the record after it is not an interrupt of its)."""
    out = []
    for m in _EXC.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        prev_start = text.rfind("\n", 0, max(line_start - 1, 0)) + 1
        prev = text[prev_start:line_start].strip()
        if prev == f"Servicing hardware INT=0x{int(m.group(1), 16):02x}":
            continue
        v, e, i, cpl, cs, rip, ss, rsp, cr2 = m.groups()
        out.append(Exc(int(v, 16), int(e, 16), i == "1", int(cpl), int(cs, 16), int(rip, 16),
                       int(ss, 16), int(rsp, 16), int(cr2, 16) if cr2 else None))
    return out


def triple_fault(text):
    return "Triple fault" in text


def resets(text):
    """How many times the CPU was reset (the first is power-on)."""
    return text.count("CPU Reset")


def count(data):
    """How many exception or interrupt records a log (bytes) holds: x86's
    "N: v=.." lines, or the ARM board's "Taking exception N"."""
    return data.count(b": v=") + data.count(b"Taking exception")


def flood_message(records, seconds):
    return (f"exception flood: the kernel took {records} exceptions in {seconds:.1f} s: QEMU's "
            f"exception log passed {LIMIT >> 20} MiB; an endless fault loop? (a handler that "
            f"returns to the instruction that faults again)")
