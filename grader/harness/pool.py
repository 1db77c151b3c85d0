"""A module's machines, started together and shared by name."""
from . import config
from .machine import Machine


class MachinePool:
    """Machines started together at module setup (they boot in parallel) and
    shared by name; close() ends them all. Subclasses set `machine` (the ARM
    lab's pool makes ArmMachines)."""

    machine = Machine

    def __init__(self):
        self.machines = {}
        self.results = {}

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
        while grub or pvh:
            if grub and (not pvh or config.build_done(grub[0][1])):
                name, lab, kw = grub.pop(0)
            else:
                name, lab, kw = pvh.pop(0)
            self.start(name, lab, **kw)

    def __getitem__(self, name):
        return self.machines[name]

    def __contains__(self, name):
        return name in self.machines

    def close(self):
        """End every machine: all are killed first, then each is waited for, so
        their exits (freeing each one's memory) overlap."""
        for m in self.machines.values():
            m.kill()
        for m in self.machines.values():
            m.close()
