"""A module's machines, started together and shared by name."""
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

    def __getitem__(self, name):
        return self.machines[name]

    def __contains__(self, name):
        return name in self.machines

    def close(self):
        for m in self.machines.values():
            m.close()
