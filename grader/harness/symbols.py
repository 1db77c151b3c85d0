"""The kernel ELF's symbol table, read with nm: names to addresses and back."""
import bisect
import subprocess
from functools import lru_cache


class Symbols:
    def __init__(self, path):
        out = subprocess.run(["nm", "-S", "-n", "--defined-only", str(path)], check=True,
                             capture_output=True, text=True).stdout
        self.by_name = {}
        self.sorted = []  # (addr, size, name, type)
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 4:
                addr, size, kind, name = parts
                size = int(size, 16)
            elif len(parts) == 3:
                addr, kind, name = parts
                size = 0
            else:
                continue
            addr = int(addr, 16)
            self.by_name[name] = addr
            self.sorted.append((addr, size, name, kind))
        self.sorted.sort()
        self._addrs = [s[0] for s in self.sorted]

    def addr(self, name):
        if name not in self.by_name:
            raise KeyError(f"symbol {name!r} is not in the kernel ELF")
        return self.by_name[name]

    def size(self, name):
        for a, size, n, _ in self.sorted:
            if n == name:
                return size
        raise KeyError(name)

    def lookup(self, addr):
        """(name, offset) of the symbol at or below addr, or (None, 0)."""
        i = bisect.bisect_right(self._addrs, addr) - 1
        while i >= 0 and self.sorted[i][3] not in "tTwW":
            i -= 1
        if i < 0:
            return None, 0
        return self.sorted[i][2], addr - self.sorted[i][0]

    def function_at(self, addr):
        """Name of the function whose body holds addr, or None."""
        i = bisect.bisect_right(self._addrs, addr) - 1
        while i >= 0 and self.sorted[i][3] not in "tT":
            i -= 1
        if i < 0:
            return None
        a, size, name, _ = self.sorted[i]
        return name if size == 0 or addr < a + size else None


@lru_cache(maxsize=None)
def load(path):
    return Symbols(path)
