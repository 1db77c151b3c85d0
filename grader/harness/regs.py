"""QEMU's `info registers`, parsed into numbers and decoded segment caches."""
import re
from dataclasses import dataclass, field


@dataclass
class Seg:
    """A segment register as QEMU holds it: selector and the descriptor cache.
    `flags` is the descriptor's high dword with the base bits masked (QEMU keeps
    limit bits 19:16 there)."""
    selector: int
    base: int
    limit: int
    flags: int

    @property
    def rpl(self):
        return self.selector & 3

    @property
    def index(self):
        return self.selector >> 3

    @property
    def type(self):
        return (self.flags >> 8) & 0xF

    @property
    def s(self):
        return (self.flags >> 12) & 1

    @property
    def dpl(self):
        return (self.flags >> 13) & 3

    @property
    def present(self):
        return (self.flags >> 15) & 1

    @property
    def l(self):
        return (self.flags >> 21) & 1

    @property
    def db(self):
        return (self.flags >> 22) & 1

    @property
    def g(self):
        return (self.flags >> 23) & 1


@dataclass
class Regs:
    gpr: dict = field(default_factory=dict)
    seg: dict = field(default_factory=dict)
    gdt: tuple = (0, 0)
    idt: tuple = (0, 0)
    cpl: int = 0
    halted: bool = False
    text: str = ""

    def __getattr__(self, name):
        key = name.upper()
        gpr = self.__dict__.get("gpr", {})
        if key in gpr:
            return gpr[key]
        raise AttributeError(name)


_SEG = re.compile(r"^(ES|CS|SS|DS|FS|GS|LDT|TR)\s*=([0-9a-f]{4}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)", re.M)
_TABLE = re.compile(r"^(GDT|IDT)=\s+([0-9a-f]+) ([0-9a-f]+)", re.M)
_PAIR = re.compile(r"\b(R[A-Z0-9]{1,2}|RFL|CR[0234]|EFER|DR[0-7])\s*=\s*([0-9a-f]+)")


def parse(text):
    r = Regs(text=text)
    for name, value in _PAIR.findall(text):
        r.gpr[name] = int(value, 16)
    r.gpr["RFLAGS"] = r.gpr.get("RFL", 0)
    for name, sel, base, limit, flags in _SEG.findall(text):
        r.seg[name] = Seg(int(sel, 16), int(base, 16), int(limit, 16), int(flags, 16))
    for name, base, limit in _TABLE.findall(text):
        setattr(r, name.lower(), (int(base, 16), int(limit, 16)))
    m = re.search(r"CPL=(\d)", text)
    r.cpl = int(m.group(1)) if m else 0
    r.halted = "HLT=1" in text
    return r
