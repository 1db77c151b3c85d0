"""Lab 1's model of x86-64 segmentation: descriptor encoding and decoding,
selectors, and the checks the CPU makes when a selector is loaded into a data
segment register or SS (SDM vol. 3 5.5-5.10, vol. 2 MOV/POP Sreg).

Independent of the kernel: the grader encodes the tuples it chose, decodes
what it reads from QEMU's memory, and predicts the exception a load raises.
"""
from dataclasses import dataclass

# access byte (descriptor bits 47:40)
ACC_A, ACC_RW, ACC_DC, ACC_CODE, ACC_S, ACC_P = 0x01, 0x02, 0x04, 0x08, 0x10, 0x80
DPL_SHIFT = 5
# flags nibble (descriptor bits 55:52)
FLAG_AVL, FLAG_L, FLAG_DB, FLAG_G = 0x1, 0x2, 0x4, 0x8
# system types (S = 0) in IA-32e mode
TSS_AVAIL, TSS_BUSY, CALL_GATE = 0x9, 0xB, 0xC

KERNEL_CS, KERNEL_DS, USER_DS, USER_CS, TSS_SEL, CALLGATE_SEL = 0x08, 0x10, 0x1B, 0x23, 0x28, 0x38
GDT_ENTRIES = 9
TSS_BYTES = 104

GP, NP, SS_FAULT = 13, 11, 12
DATA_SREGS = ("ds", "es", "fs", "gs")


def access(p=1, dpl=0, s=1, code=0, dc=0, rw=0, a=0):
    return (p * ACC_P) | (dpl << DPL_SHIFT) | (s * ACC_S) | (code * ACC_CODE) | (dc * ACC_DC) \
        | (rw * ACC_RW) | (a * ACC_A)


def encode(base, limit, acc, flags):
    """The 8-byte code/data descriptor (as an int)."""
    assert 0 <= base < 1 << 32 and 0 <= limit < 1 << 20 and 0 <= acc < 256 and 0 <= flags < 16
    return ((limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (acc << 40) | ((limit >> 16) << 48)
            | (flags << 52) | ((base >> 24) << 56))


@dataclass
class Desc:
    """One 8-byte descriptor, decoded."""
    raw: int
    base: int
    limit: int
    access: int
    flags: int

    p = property(lambda d: (d.access >> 7) & 1)
    dpl = property(lambda d: (d.access >> DPL_SHIFT) & 3)
    s = property(lambda d: (d.access >> 4) & 1)
    type = property(lambda d: d.access & 0xF)
    code = property(lambda d: bool(d.s and d.access & ACC_CODE))
    data = property(lambda d: bool(d.s and not d.access & ACC_CODE))
    rw = property(lambda d: bool(d.access & ACC_RW))
    dc = property(lambda d: bool(d.access & ACC_DC))
    l = property(lambda d: (d.flags >> 1) & 1)
    db = property(lambda d: (d.flags >> 2) & 1)
    g = property(lambda d: (d.flags >> 3) & 1)

    @property
    def byte_limit(self):
        """The limit in bytes, as the CPU caches it (4 KiB units when G)."""
        return (self.limit << 12) | 0xFFF if self.g else self.limit

    @property
    def cache_flags(self):
        """The descriptor's high dword without the base bits, as QEMU caches it (`info registers`)."""
        return (self.raw >> 32) & 0x00FFFF00

    def __str__(self):
        return (f"0x{self.raw:016x} (base 0x{self.base:x} limit 0x{self.limit:x} access 0x{self.access:02x}"
                f" flags 0x{self.flags:x})")


def decode(raw):
    return Desc(raw, ((raw >> 16) & 0xFFFFFF) | ((raw >> 56) << 24),
                (raw & 0xFFFF) | (((raw >> 48) & 0xF) << 16), (raw >> 40) & 0xFF, (raw >> 52) & 0xF)


def system_base(lo, hi):
    """The 64-bit base of a 16-byte system descriptor (TSS, LDT)."""
    return decode(lo).base | ((hi & 0xFFFFFFFF) << 32)


@dataclass
class Gate:
    selector: int
    target: int
    access: int
    high_type: int  # bits 44:40 of the upper 8 bytes: must be zero

    p = property(lambda g: (g.access >> 7) & 1)
    dpl = property(lambda g: (g.access >> DPL_SHIFT) & 3)
    s = property(lambda g: (g.access >> 4) & 1)
    type = property(lambda g: g.access & 0xF)


def decode_gate(lo, hi):
    return Gate((lo >> 16) & 0xFFFF, (lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16) | ((hi & 0xFFFFFFFF) << 32),
                (lo >> 40) & 0xFF, (hi >> 40) & 0x1F)


def table(data):
    """A GDT's bytes as a list of 8-byte little-endian ints."""
    return [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data) - 7, 8)]


def load_outcome(sreg, sel, cpl, gdt, gdt_limit):
    """The exception (vector, error code) that `mov sel, %sreg` raises at CPL cpl in
    64-bit mode with this GDT (list of descriptors, GDTR limit), or None if it loads.
    LDT selectors (TI = 1) are not modelled."""
    assert sel & 4 == 0, "LDT selectors are not modelled"
    rpl, index_bytes, err = sel & 3, sel & ~7, sel & 0xFFFC
    if index_bytes == 0:  # null: fine for data registers; SS only below CPL 3 in 64-bit mode
        return (GP, 0) if sreg == "ss" and cpl == 3 else None
    if index_bytes + 7 > gdt_limit:
        return (GP, err)
    d = decode(gdt[index_bytes >> 3])
    if not d.s:
        return (GP, err)
    if sreg == "ss":
        if d.code or not d.rw or rpl != cpl or d.dpl != cpl:
            return (GP, err)
        return None if d.p else (SS_FAULT, err)
    if d.code and not d.rw:
        return (GP, err)
    if not (d.code and d.dc) and (d.dpl < cpl or d.dpl < rpl):
        return (GP, err)
    return None if d.p else (NP, err)


def tss_fields(data):
    """RSP0..2, IST1..7 and the I/O map base of a 64-bit TSS's 104 bytes."""
    q = lambda off: int.from_bytes(data[off:off + 8], "little")  # noqa: E731
    return {"rsp": [q(4 + 8 * i) for i in range(3)],
            "ist": [None] + [q(0x24 + 8 * i) for i in range(7)],
            "iomap_base": int.from_bytes(data[0x66:0x68], "little")}
