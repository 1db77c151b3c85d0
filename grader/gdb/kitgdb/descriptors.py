"""Segment descriptors, the 64-bit TSS and IDT gates, decoded from raw bytes
(SDM vol. 3 3.4-3.5, 7.7, 6.14). The checks name what the CPU would do with
a bad entry, since that is what a TA is looking for.

Descriptor (8 bytes; system descriptors in long mode take 16):
  63..56 base 31:24 | 55 G | 54 D/B | 53 L | 52 AVL | 51..48 limit 19:16 |
  47 P | 46..45 DPL | 44 S | 43..40 type | 39..16 base 23:0 | 15..0 limit 15:0
Gate (16 bytes):
  lo: 63..48 offset 31:16 | 47 P | 46..45 DPL | 44 0 | 43..40 type | 34..32 IST |
      31..16 selector | 15..0 offset 15:0      hi: 31..0 offset 63:32
"""
import struct
from dataclasses import dataclass

ACC_A, ACC_RW, ACC_DC, ACC_CODE, ACC_S, ACC_P = 0x01, 0x02, 0x04, 0x08, 0x10, 0x80
DPL_SHIFT = 5
FLAG_AVL, FLAG_L, FLAG_DB, FLAG_G = 0x1, 0x2, 0x4, 0x8
SYS_LDT, SYS_TSS_AVAIL, SYS_TSS_BUSY, SYS_CALL_GATE, SYS_INTR_GATE, SYS_TRAP_GATE = 0x2, 0x9, 0xB, 0xC, 0xE, 0xF
SYS_NAMES = {SYS_LDT: "LDT", SYS_TSS_AVAIL: "TSS64-avail", SYS_TSS_BUSY: "TSS64-busy",
             SYS_CALL_GATE: "callgate64", SYS_INTR_GATE: "intgate64", SYS_TRAP_GATE: "trapgate64"}
SYS_16_BYTES = (SYS_LDT, SYS_TSS_AVAIL, SYS_TSS_BUSY, SYS_CALL_GATE)
SEL_RPL_MASK, SEL_TI, SEL_INDEX_SHIFT = 3, 4, 3
DESC_BYTES, GATE_BYTES = 8, 16
TSS_MIN_LIMIT = 0x67  # 104 bytes: the 64-bit TSS
QEMU_CACHE_MASK = 0x00F0FF00  # flags nibble and access byte of the high dword (QEMU's `flags`)

EXCEPTION_NAMES = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
                   "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
                   "#VE", "#CP"] + [f"#{v}" for v in range(22, 28)] + ["#HV", "#VC", "#SX", "#31"]
ERROR_CODE_VECTORS = (8, 10, 11, 12, 13, 14, 17, 21, 29, 30)


PIC_VECTOR_BASE, PIC_IRQS = 32, 16  # the kit's 8259 delivers IRQ n as vector 32 + n (labs/kernel/serial.c)


def mnemonic(vector):
    """#PF for an exception; IRQ4 for a vector the kit's PIC sends (the UART is IRQ 4)."""
    if 0 <= vector < len(EXCEPTION_NAMES):
        return EXCEPTION_NAMES[vector]
    if PIC_VECTOR_BASE <= vector < PIC_VECTOR_BASE + PIC_IRQS:
        return f"IRQ{vector - PIC_VECTOR_BASE}"
    return "irq"


def u64s(data):
    """Little-endian u64 values of data (its length a multiple of 8)."""
    return list(struct.unpack(f"<{len(data) // 8}Q", data[:len(data) // 8 * 8]))


# ---- selectors ------------------------------------------------------------------

def selector_text(sel):
    """'0x2b = index 5 GDT RPL 3'."""
    table = "LDT" if sel & SEL_TI else "GDT"
    return f"0x{sel:04x} = index {sel >> SEL_INDEX_SHIFT} {table} RPL {sel & SEL_RPL_MASK}"


# ---- code, data and system descriptors ------------------------------------------

@dataclass
class Descriptor:
    raw: int
    hi: int | None = None  # the second 8 bytes of a 16-byte system descriptor

    base32 = property(lambda d: ((d.raw >> 16) & 0xFFFFFF) | ((d.raw >> 56) << 24))
    limit = property(lambda d: (d.raw & 0xFFFF) | (((d.raw >> 48) & 0xF) << 16))
    access = property(lambda d: (d.raw >> 40) & 0xFF)
    flags = property(lambda d: (d.raw >> 52) & 0xF)
    present = property(lambda d: bool(d.access & ACC_P))
    dpl = property(lambda d: (d.access >> DPL_SHIFT) & 3)
    s = property(lambda d: bool(d.access & ACC_S))
    type = property(lambda d: d.access & 0xF)
    code = property(lambda d: d.s and bool(d.access & ACC_CODE))
    data = property(lambda d: d.s and not d.access & ACC_CODE)
    l = property(lambda d: bool(d.flags & FLAG_L))
    db = property(lambda d: bool(d.flags & FLAG_DB))
    g = property(lambda d: bool(d.flags & FLAG_G))

    @property
    def base(self):
        if self.hi is not None:
            return self.base32 | ((self.hi & 0xFFFFFFFF) << 32)
        return self.base32

    @property
    def byte_limit(self):
        return (self.limit << 12) | 0xFFF if self.g else self.limit

    @property
    def cache_flags(self):
        return (self.raw >> 32) & QEMU_CACHE_MASK

    @property
    def gate_target(self):
        """A call gate's target (raw holds offset 15:0 and 31:16, hi 63:32)."""
        return (self.raw & 0xFFFF) | (((self.raw >> 48) & 0xFFFF) << 16) | (((self.hi or 0) & 0xFFFFFFFF) << 32)

    @property
    def gate_selector(self):
        return (self.raw >> 16) & 0xFFFF

    def kind(self):
        """code64 code32 code16 data LDT TSS64-busy callgate64 ... or sys-type-N."""
        if self.code:
            return "code64" if self.l else "code32" if self.db else "code16"
        if self.data:
            return "data"
        return SYS_NAMES.get(self.type, f"sys-type-{self.type:x}")

    def rights(self):
        """R/W, C/E, A letters of a code or data segment."""
        a = self.access
        if self.code:
            return ("R" if a & ACC_RW else "-") + ("C" if a & ACC_DC else "-") + ("A" if a & ACC_A else "-")
        return ("W" if a & ACC_RW else "-") + ("E" if a & ACC_DC else "-") + ("A" if a & ACC_A else "-")

    def text(self):
        if self.raw == 0 and not self.hi:
            return "null"
        head = f"{self.kind():<11} DPL{self.dpl} {'P' if self.present else 'not-present'}"
        if self.s:
            lim = f"limit 0x{self.limit:05x}" + (f" G ({self.byte_limit:#x})" if self.g else "")
            return f"{head} {self.rights()} base 0x{self.base:x} {lim}"
        if self.type == SYS_CALL_GATE:
            return f"{head} -> {self.gate_selector:#06x}:0x{self.gate_target:x}"
        return f"{head} base 0x{self.base:x} limit 0x{self.byte_limit:x}"

    def problems(self):
        """What is wrong with this descriptor for a 64-bit kernel, in words."""
        out = []
        if self.raw == 0:
            return out
        if self.code and self.l and self.db:
            out.append("L=1 with D=1 is reserved: loading it into CS raises #GP")
        if not self.s and self.type not in SYS_NAMES:
            out.append(f"system type {self.type:#x} is not valid in long mode (#GP when used)")
        if not self.s and self.type in SYS_16_BYTES and self.hi is not None and (self.hi >> 40) & 0x1F:
            out.append("the upper half's type field must be 0")
        if self.type in (SYS_TSS_AVAIL, SYS_TSS_BUSY) and not self.s and self.byte_limit < TSS_MIN_LIMIT:
            out.append(f"TSS limit {self.byte_limit:#x} < 0x67: ltr raises #TS")
        if not self.present:
            out.append("not present: loading it raises #NP (#SS for SS)")
        return out


def parse_gdt(data):
    """[(index, Descriptor)] of a GDT's bytes; a 16-byte system descriptor takes two slots."""
    words = u64s(data)
    out, i = [], 0
    while i < len(words):
        d = Descriptor(words[i])
        if d.raw and not d.s and d.type in SYS_16_BYTES and i + 1 < len(words):
            d.hi = words[i + 1]
            out.append((i, d))
            i += 2
            continue
        out.append((i, d))
        i += 1
    return out


def lookup(gdt_entries, sel):
    """The Descriptor a selector names, or None (null, LDT, past the limit, upper half)."""
    if sel & SEL_TI:
        return None
    for index, d in gdt_entries:
        if index == sel >> SEL_INDEX_SHIFT:
            return d
    return None


# ---- the 64-bit TSS --------------------------------------------------------------

TSS_RSP_OFF, TSS_IST_OFF, TSS_IOMAP_OFF = 4, 0x24, 0x66


@dataclass
class Tss:
    rsp: list
    ist: list  # ist[0] unused, ist[1..7]
    iomap_base: int


def parse_tss(data):
    q = lambda off: struct.unpack_from("<Q", data, off)[0]  # noqa: E731
    return Tss([q(TSS_RSP_OFF + 8 * i) for i in range(3)],
               [None] + [q(TSS_IST_OFF + 8 * i) for i in range(7)],
               struct.unpack_from("<H", data, TSS_IOMAP_OFF)[0])


# ---- IDT gates -------------------------------------------------------------------

GATE_TYPES = {SYS_INTR_GATE: "intr", SYS_TRAP_GATE: "trap"}


@dataclass
class Gate:
    vector: int
    lo: int
    hi: int

    target = property(lambda g: (g.lo & 0xFFFF) | (((g.lo >> 48) & 0xFFFF) << 16) | ((g.hi & 0xFFFFFFFF) << 32))
    selector = property(lambda g: (g.lo >> 16) & 0xFFFF)
    ist = property(lambda g: (g.lo >> 32) & 7)
    type = property(lambda g: (g.lo >> 40) & 0xF)
    s = property(lambda g: bool((g.lo >> 44) & 1))
    dpl = property(lambda g: (g.lo >> 45) & 3)
    present = property(lambda g: bool((g.lo >> 47) & 1))
    reserved = property(lambda g: ((g.lo >> 35) & 0x1F) | (g.hi >> 32))

    def type_name(self):
        return GATE_TYPES.get(self.type, f"type-{self.type:x}")


def parse_idt(data):
    words = u64s(data)
    return [Gate(v, words[2 * v], words[2 * v + 1]) for v in range(len(words) // 2)]


def gate_problems(g, gdt_entries, gdt_limit, tss=None):
    """What goes wrong when the CPU delivers through this present gate."""
    out = []
    if g.type not in GATE_TYPES or g.s:
        out.append(f"type {g.type:#x}{' with S=1' if g.s else ''} is not a 64-bit interrupt/trap gate: "
                   "delivery raises #GP")
    sel = g.selector
    if sel & ~SEL_RPL_MASK == 0:
        out.append("null code selector: delivery raises #GP")
    elif sel & SEL_TI:
        out.append(f"selector {sel:#x} points into the LDT")
    elif (sel | 7) > gdt_limit:
        out.append(f"selector {sel:#x} is past the GDT limit {gdt_limit:#x}: delivery raises #GP")
    else:
        d = lookup(gdt_entries, sel)
        if d is None or not d.code:
            out.append(f"selector {sel:#x} is not a code segment: delivery raises #GP")
        elif not d.l:
            out.append(f"selector {sel:#x} is not a 64-bit code segment (L=0): delivery raises #GP")
        elif not d.present:
            out.append(f"selector {sel:#x} is not present: delivery raises #NP")
        elif d.dpl != 0:
            out.append(f"selector {sel:#x} has DPL {d.dpl}: the handler would not run in ring 0")
    if tss is not None and g.ist and not tss.ist[g.ist]:
        out.append(f"IST{g.ist} is 0 in the TSS: delivery switches to stack 0 and faults")
    if g.reserved:
        out.append("reserved bits are set")
    return out
