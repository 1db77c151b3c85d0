"""A module's machines, started together and shared by name."""
import re

from . import config
from .machine import KernelError, Machine, stub_verdict

# A pool with CANARY_MIN PVH boots of one lab or more starts one of them (the
# canary) with the rest of the pool and the others once the canary has printed
# its first line after the kernel's banner (kmain prints it just before
# lab_main). When that line is a stub's panic, lab_main stopped at a function
# still to write before printing anything of its own, and so does every boot
# of this kernel: lab_main's code before its first line of output does not
# depend on the boot's parameters (labs/*/main.c keeps it so). The others are
# then never started, and each test that needs one fails with the canary's
# verdict. Labs 1 and 2 boot 11 and 12 scenario machines: on a starter this
# saves ~0.5 s of CPU a grading; a kernel that gets past its stubs starts them
# ~40 ms later. Any other first line (the prompt counts), or none within
# CANARY_WAIT seconds, starts them all.
CANARY_MIN = 4
CANARY_WAIT = 1.5
_FIRST_LINE = re.compile(r"kit: lab [^\n]*\n([^\n]*\n|lab> )")
_AFTER_BANNER = re.compile(r"kit: lab [^\n]*\n([^\n]*)")


def first_line(m, wait):
    """The first line machine m printed after the kernel's banner, or None (none
    within `wait` seconds of its start, or it ended first); consumes nothing."""
    pos = m.pos
    try:
        return m.expect(_FIRST_LINE, wait, allow_stop=True, since=m.started).group(1)
    except KernelError as e:  # a stub's panic is judged once read, before its line ends
        found = _AFTER_BANNER.search(m.text, pos) if e.verdict == "stub" else None
        return found.group(1) if found else None
    finally:
        m.pos = pos


class MachinePool:
    """Machines started together at module setup (they boot in parallel) and
    shared by name; close() ends them all. Subclasses set `machine` (the ARM
    lab's pool makes ArmMachines)."""

    machine = Machine
    canary_min = CANARY_MIN  # 0: start every machine at once

    def __init__(self):
        self.machines = {}
        self.results = {}
        self.canary = None    # the PVH boot the deferred ones wait for
        self.deferred = {}    # name -> (lab, params): started once the canary got past lab_main's start
        self.stubbed = None   # the canary's stub verdict (text): the deferred machines are never started

    def once(self, key, fn):
        """Run fn() once per module (a stage several tests share): later callers
        get its value, or its failure raised again (a KernelError included)."""
        if key not in self.results:
            try:
                self.results[key] = (True, fn())
            except AssertionError as e:
                self.results[key] = (False, e)
        ok, value = self.results[key]
        if not ok:
            raise value
        return value

    def start(self, name, lab, **kwargs):
        """start(name, LAB, via="grub"|"pvh", **params): boot now, fetch with pool[name]."""
        via = kwargs.pop("via", None)
        self.machines[name] = self.machine(lab, params=kwargs, **({"via": via} if via else {}))
        return self.machines[name]

    def start_many(self, specs):
        """Start several machines, [(name, LAB, {"via": .., **params})]: the GRUB
        boots as soon as their lab's ISO exists (they are the longest and the
        tests wait for them), the PVH boots meanwhile, from the moment the ELF is
        linked. Starting a machine takes ~10 ms; ten of them in a row would hold
        a GRUB boot back by 0.1 s."""
        grub = [s for s in specs if s[2].get("via") == "grub"]
        pvh = [s for s in specs if s[2].get("via") != "grub"]
        if self.canary_min and len(pvh) >= self.canary_min and len({s[1] for s in pvh}) == 1:
            self.canary = pvh[0][0]
            self.deferred.update((name, (lab, kw)) for name, lab, kw in pvh[1:])
            pvh = pvh[:1]
        while grub or pvh:
            if grub and (not pvh or config.build_done(grub[0][1])):
                name, lab, kw = grub.pop(0)
            else:
                name, lab, kw = pvh.pop(0)
            self.start(name, lab, **kw)

    def _settle(self):
        """Start the deferred machines, unless the canary stopped at a stub first."""
        canary = self.machines[self.canary]
        stub = stub_verdict(first_line(canary, CANARY_WAIT) or "")
        if stub:
            self.stubbed = str(KernelError("stub", f"{stub}\n(Not booted: boot {self.canary} of the same "
                                           "kernel stopped at it before printing a line of its own.)", canary))
            return
        deferred, self.deferred = self.deferred, {}
        for name, (lab, kw) in deferred.items():
            self.start(name, lab, **kw)

    def __getitem__(self, name):
        if self.deferred and self.stubbed is None:
            self._settle()
        if name in self.deferred:
            raise KernelError("stub", self.stubbed)
        return self.machines[name]

    def __contains__(self, name):
        return name in self.machines or name in self.deferred

    def close(self):
        """End every machine: all are killed first, then each is waited for, so
        their exits (freeing each one's memory) overlap."""
        for m in self.machines.values():
            m.kill()
        for m in self.machines.values():
            m.close()
