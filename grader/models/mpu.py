"""Lab 6 model: the ARMv7-M MPU (PMSAv7) as the grader understands it.

Region encoding (RBAR/RASR), region matching (highest number wins,
subregions, the background map for privileged code only), permissions
(AP, XN), the MemManage fault an access must raise, random layouts in the
lab's arena, and a reader for the kernel's MEMMANAGE report.
"""
import re
from dataclasses import dataclass

# ---- registers ----------------------------------------------------------------
RBAR_ADDR_MASK = 0xFFFFFFE0
RBAR_REGION_MASK = 0xF
RASR_ENABLE = 1 << 0
RASR_SIZE_SHIFT = 1
RASR_SRD_SHIFT = 8
RASR_B, RASR_C = 1 << 16, 1 << 17
RASR_AP_SHIFT = 24
RASR_XN = 1 << 28
RASR_ATTR_NORMAL = RASR_C | RASR_B
CTRL_ENABLE, CTRL_HFNMIENA, CTRL_PRIVDEFENA = 1, 2, 4
SHCSR_MEMFAULTENA = 1 << 16
MIN_SIZE, SRD_MIN_SIZE, SUBREGIONS = 32, 256, 8

# MMFSR (CFSR bits 7:0)
IACCVIOL, DACCVIOL, MUNSTKERR, MSTKERR, MLSPERR, MMARVALID = 0x01, 0x02, 0x08, 0x10, 0x20, 0x80
MMFSR_NAMES = {IACCVIOL: "IACCVIOL", DACCVIOL: "DACCVIOL", MUNSTKERR: "MUNSTKERR",
               MSTKERR: "MSTKERR", MLSPERR: "MLSPERR", MMARVALID: "MMARVALID"}

# AP: (privileged read, privileged write, unprivileged read, unprivileged write)
AP_NONE, AP_PRW, AP_PRW_URO, AP_RW, AP_RESERVED, AP_PRO, AP_RO, AP_RO_ALT = range(8)
AP_RIGHTS = {
    AP_NONE: (False, False, False, False),
    AP_PRW: (True, True, False, False),
    AP_PRW_URO: (True, True, True, False),
    AP_RW: (True, True, True, True),
    AP_PRO: (True, False, False, False),
    AP_RO: (True, False, True, False),
    AP_RO_ALT: (True, False, True, False),
}
AP_TEXT = {AP_NONE: "none/none", AP_PRW: "RW/none", AP_PRW_URO: "RW/RO", AP_RW: "RW/RW",
           AP_PRO: "RO/none", AP_RO: "RO/RO", AP_RO_ALT: "RO/RO"}

# The lab's layout (labs/06-mpu/linker.ld)
ARENA_START, ARENA_END = 0x20100000, 0x20200000
FIRST_FREE_REGION, REGIONS = 2, 8    # regions 0-1 are the kit's (user code, user data)


def mmfsr_text(v):
    return " ".join(n for bit, n in sorted(MMFSR_NAMES.items()) if v & bit) or "none"


@dataclass(frozen=True)
class Region:
    number: int
    base: int
    size: int
    ap: int
    xn: bool
    srd: int = 0

    def valid(self):
        """Can this be a region? (What mpu_encode must check.)"""
        return (self.size >= MIN_SIZE and self.size & (self.size - 1) == 0
                and self.size <= 1 << 31 and self.base % self.size == 0
                and 0 <= self.ap <= 7 and self.ap != AP_RESERVED and 0 <= self.srd <= 0xFF
                and (self.srd == 0 or self.size >= SRD_MIN_SIZE))

    def encode(self):
        """(RBAR, RASR) as mpu_encode must return them, or None when invalid."""
        if not self.valid():
            return None
        rasr = ((RASR_XN if self.xn else 0) | self.ap << RASR_AP_SHIFT | RASR_ATTR_NORMAL
                | self.srd << RASR_SRD_SHIFT | (self.size.bit_length() - 2) << RASR_SIZE_SHIFT
                | RASR_ENABLE)
        return self.base & RBAR_ADDR_MASK, rasr

    def hardware(self):
        """(RBAR, RASR) as QEMU shows them once the region is programmed and
        selected: a read of RBAR gives the region number in REGION."""
        rbar, rasr = self.encode()
        return rbar | self.number, rasr

    def covers(self, addr):
        """addr lies in the region and not in a disabled subregion."""
        if not self.base <= addr < self.base + self.size:
            return False
        if self.size >= SRD_MIN_SIZE:
            sub = (addr - self.base) // (self.size // SUBREGIONS)
            return not self.srd >> sub & 1
        return True

    def command(self):
        return (f"region {self.number} 0x{self.base:x} 0x{self.size:x} {self.ap} "
                f"{int(self.xn)} 0x{self.srd:x}")

    def __str__(self):
        return (f"region {self.number} 0x{self.base:08x}+0x{self.size:x} AP {self.ap} "
                f"({AP_TEXT.get(self.ap, '?')}){' XN' if self.xn else ''}"
                f"{f' SRD 0x{self.srd:02x}' if self.srd else ''}")


def default_map_executable(addr):
    """ARMv7-M default memory map: code, SRAM and RAM may run code;
    peripherals, devices and the system space are execute-never."""
    return addr < 0x40000000 or 0x60000000 <= addr < 0xA0000000


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    mmfsr: int = 0          # the flags the fault sets
    address: int = None     # MMFAR when MMARVALID
    region: Region = None   # the region that decided (None: background or nothing)
    why: str = ""


class Mpu:
    """The MPU's state as the grader programmed it."""

    def __init__(self, enabled=False, privdefena=True):
        self.regions = {}
        self.enabled = enabled
        self.privdefena = privdefena

    def set(self, r):
        self.regions[r.number] = r

    def clear(self, number):
        self.regions.pop(number, None)

    def match(self, addr):
        """The region that decides for addr: the highest-numbered one that covers it."""
        for n in sorted(self.regions, reverse=True):
            if self.regions[n].covers(addr):
                return self.regions[n]
        return None

    def check(self, addr, access, privileged):
        """The outcome of one access ("read", "write", "exec") at addr."""
        fault = IACCVIOL if access == "exec" else DACCVIOL | MMARVALID
        fault_addr = None if access == "exec" else addr
        if not self.enabled:
            ok = access != "exec" or default_map_executable(addr)
            return Outcome(ok, 0 if ok else fault, None if ok else fault_addr, why="MPU off: default map")
        r = self.match(addr)
        if r is None:
            if privileged and self.privdefena:
                ok = access != "exec" or default_map_executable(addr)
                return Outcome(ok, 0 if ok else fault, None if ok else fault_addr,
                               why="no region: the background map (privileged code only)")
            return Outcome(False, fault, fault_addr,
                           why="no region, and the background map is for privileged code only")
        pr, pw, ur, uw = AP_RIGHTS[r.ap]
        read, write = (pr, pw) if privileged else (ur, uw)
        if access == "exec":
            ok = read and not r.xn
        else:
            ok = read if access == "read" else write
        who = "privileged" if privileged else "unprivileged"
        why = f"{r}: {access} {'allowed' if ok else 'refused'} for {who} code"
        return Outcome(ok, 0 if ok else fault, None if ok else fault_addr, r, why)


# ---- random layouts in the arena ---------------------------------------------------
SLOT = 0x20000  # the arena is cut in 8 slots of 128 KiB, one region per slot at most


def random_region(rng, slot, number, ap, xn, min_log2=8, max_log2=16, srd=0):
    size = 1 << rng.randint(min_log2, max_log2)
    start = ARENA_START + slot * SLOT
    base = start + rng.randrange(SLOT // size) * size
    return Region(number, base, size, ap, xn, srd)


def address_in(rng, region, subregions=None):
    """A word address inside region (inside one of the given subregions)."""
    if subregions is None:
        return region.base + 4 * rng.randrange(region.size // 4)
    sub = rng.choice(list(subregions))
    span = region.size // SUBREGIONS
    return region.base + sub * span + 4 * rng.randrange(span // 4)


def free_address(rng, used_slots):
    """A word address in an arena slot no region touches."""
    slot = rng.choice([s for s in range((ARENA_END - ARENA_START) // SLOT) if s not in used_slots])
    return ARENA_START + slot * SLOT + 4 * rng.randrange(SLOT // 4)


def thumb_return(imm):
    """A word of Thumb code: `movs r0, #imm; bx lr` (a function returning imm)."""
    return 0x4770 << 16 | 0x2000 | (imm & 0xFF)


# ---- the kernel's report ---------------------------------------------------------
_REPORT = re.compile(
    r"MEMMANAGE: (?P<kind>[^(\n]*?) \(MMFSR 0x(?P<mmfsr>[0-9a-fA-F]+)[^)\n]*\)\n"
    r"\s*address (?:0x(?P<addr>[0-9a-fA-F]+)|(?P<noaddr>unknown)[^\n]*?"
    r"(?:, yet addr = 0x(?P<stale>[0-9a-fA-F]+))?)\n"
    r"\s*pc (?:0x(?P<pc>[0-9a-fA-F]+)|(?P<nopc>unknown)[^\n,]*)[^\n]*?, (?P<mode>unprivileged|privileged) thread")


@dataclass
class Report:
    kind: str
    mmfsr: int
    address: int     # None: "address unknown"
    stale: int       # the addr field filled although MMARVALID was clear ("yet addr = ..."), or None
    pc: int          # None: "pc unknown"
    user: bool


def parse_report(text):
    """The kernel's MEMMANAGE report (mm_report's format), or None."""
    m = _REPORT.search(text)
    if not m:
        return None
    return Report(m["kind"].strip(), int(m["mmfsr"], 16),
                  int(m["addr"], 16) if m["addr"] else None,
                  int(m["stale"], 16) if m["stale"] else None,
                  int(m["pc"], 16) if m["pc"] else None, m["mode"] == "unprivileged")


_ACCESS = re.compile(r"(user|kern) (read|write|exec) 0x([0-9a-f]+) (?:->|<-) 0x([0-9a-f]+)")


def parse_access(text):
    """(who, access, addr, value) from a `user`/`kern` command's line, or None."""
    m = _ACCESS.search(text)
    return (m[1], m[2], int(m[3], 16), int(m[4], 16)) if m else None
