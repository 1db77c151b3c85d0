"""QEMU's `info registers`, parsed into numbers and decoded segment caches;
and what differs between two readings (changes(), describe_changes()), for
messages that name the first difference."""
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


# ---- what changed, for messages ----------------------------------------------------------

SEG_FIELDS = ("selector", "base", "limit", "flags")


def changes(before, after, names=None):
    """["NAME old -> new", ...] for each register that differs between two
    Regs: general and control registers (`names`, default all QEMU showed),
    then segment registers field by field, then GDTR and IDTR."""
    said = []
    for name in names or sorted(set(before.gpr) | set(after.gpr)):
        if name in ("RFL",):  # RFLAGS says it
            continue
        b, a = before.gpr.get(name), after.gpr.get(name)
        if b != a:
            said.append(f"{name} {_hex(b)} -> {_hex(a)}")
    if names is None:
        for name in sorted(set(before.seg) | set(after.seg)):
            b, a = before.seg.get(name), after.seg.get(name)
            for f in SEG_FIELDS:
                if getattr(b, f, None) != getattr(a, f, None):
                    said.append(f"{name}.{f} {_hex(getattr(b, f, None))} -> {_hex(getattr(a, f, None))}")
        for name in ("gdt", "idt"):
            b, a = getattr(before, name), getattr(after, name)
            if b != a:
                said.append(f"{name.upper()}R base {_hex(b[0])} limit {_hex(b[1])} -> "
                            f"base {_hex(a[0])} limit {_hex(a[1])}")
    return said


def describe_changes(before, after, names=None):
    """The first register that differs, before -> after, and how many more do;
    '' when none does."""
    said = changes(before, after, names)
    if not said:
        return ""
    return said[0] + (f" (and {len(said) - 1} more: {', '.join(s.split()[0] for s in said[1:4])}"
                      f"{', ...' if len(said) > 4 else ''})" if len(said) > 1 else "")


def _hex(v):
    return "none" if v is None else f"0x{v:x}"
