"""QEMU as seen through gdb's `monitor`: registers, physical memory and
virtual memory translated by the grader's walk, all cached until the next
stop, so one command costs a few monitor round trips.

gdb itself reads memory through the CPU's current page tables; page tables
live at physical addresses, so they are read with QEMU's `xp`, one whole
4 KiB page (`xp /512gx`) per round trip.
"""
import re
import struct

import gdb

from .models import paging, regs as regs_model, symbols as symbols_model

PAGE = 4096
QWORDS = PAGE // 8
_XP_LINE = re.compile(r"^([0-9a-f]+):((?: 0x[0-9a-f]+)+)\s*$", re.M)


class KitError(Exception):
    """A kit command cannot go on; str() says why, for the TA."""


class Target:
    def __init__(self):
        self.pages = {}   # physical page -> 4096 bytes
        self._regs = None
        self.symbols = {}
        self.round_trips = 0

    def invalidate(self, *_):
        self.pages.clear()
        self._regs = None

    # ---- QEMU's monitor --------------------------------------------------------
    def monitor(self, cmd):
        self.round_trips += 1
        try:
            return gdb.execute("monitor " + cmd, to_string=True).replace("\r", "")
        except gdb.error as e:
            raise KitError(f"cannot reach QEMU's monitor ({e}); connect first "
                           "(make gdb, or: target remote SOCKET) and stop the CPU") from None

    def regs(self):
        """QEMU's `info registers`, parsed by the harness (grader/harness/regs.py)."""
        if self._regs is None:
            self._regs = regs_model.parse(self.monitor("info registers"))
        return self._regs

    # ---- physical memory ---------------------------------------------------------
    def phys_page(self, page):
        data = self.pages.get(page)
        if data is None:
            text = self.monitor(f"xp /{QWORDS}gx 0x{page:x}")
            words = []
            for m in _XP_LINE.finditer(text):
                words += [int(w, 16) for w in m.group(2).split()]
            if len(words) != QWORDS:
                raise KitError(f"QEMU cannot read physical page 0x{page:x} "
                               f"({text.strip().splitlines()[0] if text.strip() else 'no answer'}): "
                               "outside RAM?")
            data = struct.pack(f"<{QWORDS}Q", *words)
            self.pages[page] = data
        return data

    def read_u64(self, pa):
        off = pa & (PAGE - 1)
        if off <= PAGE - 8:
            return struct.unpack_from("<Q", self.phys_page(pa - off), off)[0]
        return int.from_bytes(self.read_phys(pa, 8), "little")

    def read_phys(self, pa, n):
        out = bytearray()
        while n > 0:
            off = pa & (PAGE - 1)
            chunk = min(n, PAGE - off)
            out += self.phys_page(pa - off)[off:off + chunk]
            pa, n = pa + chunk, n - chunk
        return bytes(out)

    # ---- virtual memory through the grader's walk --------------------------------
    def cr3(self):
        return self.regs().gpr.get("CR3", 0)

    def paging_on(self):
        return bool(self.regs().gpr.get("CR0", 0) & (1 << 31))

    def nxe(self):
        return bool(self.regs().gpr.get("EFER", 0) & (1 << 11))

    def walk(self, va, cr3=None):
        return paging.walk(self.read_u64, self.cr3() if cr3 is None else cr3, va)

    def translate(self, va, what="address"):
        """The physical address of va under the current CR3, or KitError saying why not."""
        if not self.paging_on():
            return va
        w = self.walk(va)
        if not w.mapped:
            why = "is not canonical" if not w.canonical else \
                f"is not mapped (the walk stops at the {paging.LEVEL_NAMES[w.level]} entry)"
            raise KitError(f"the {what} 0x{va:x} {why}")
        return w.pa

    def read_virt(self, va, n, what="address"):
        out = bytearray()
        while n > 0:
            chunk = min(n, PAGE - (va & (PAGE - 1)))
            out += self.read_phys(self.translate(va, what), chunk)
            va, n = va + chunk, n - chunk
        return bytes(out)

    # ---- symbols -------------------------------------------------------------------
    def symbol(self, addr):
        """'name+0x12' for an address in the kernel ELF, else ''."""
        if addr not in self.symbols:
            try:
                text = gdb.execute(f"info symbol 0x{addr:x}", to_string=True)
            except gdb.error:
                text = ""
            m = re.match(r"(\S+)(?: \+ (\d+))? in section", text)
            self.symbols[addr] = "" if not m else m.group(1) + (f"+{int(m.group(2)):#x}" if m.group(2) else "")
        return self.symbols[addr]

    def names_at(self, addr):
        """Every ELF symbol at exactly addr (labels such as ist1_stack_top share
        their address with whatever the linker put next)."""
        try:
            path = gdb.current_progspace().filename
            table = symbols_model.load(path) if path else None
        except Exception:  # no ELF, or readelf missing: names are a convenience
            table = None
        if table is None:
            return []
        return [name for a, _, name, _ in table.sorted if a == addr]
