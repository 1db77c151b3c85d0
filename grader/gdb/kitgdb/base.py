"""What every `kit` command shares: the Target (QEMU through gdb, cached per
stop), the stop counter, expression evaluation, and the command base class."""
import gdb

from .target import KitError, Target

T = Target()
MASK64 = (1 << 64) - 1
STATE = {"stop": 0, "faults": []}  # stop counter; [(stop, pc, fault key)] kit frame decoded


def on_stop(_event=None):
    T.invalidate()
    STATE["stop"] += 1


def install_events():
    gdb.events.stop.connect(on_stop)
    gdb.events.cont.connect(T.invalidate)
    gdb.events.memory_changed.connect(T.invalidate)
    gdb.events.register_changed.connect(T.invalidate)


def number(expr):
    """A gdb expression as a 64-bit number: `$cr2`, `0x1000`, `&gdt`, `gdt`, `lab_main`."""
    try:
        v = gdb.parse_and_eval(expr)
        if v.type.strip_typedefs().code in (gdb.TYPE_CODE_ARRAY, gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_FUNC):
            v = v.address
        return int(v.cast(gdb.lookup_type("long"))) & MASK64
    except gdb.error as e:
        raise KitError(f"cannot evaluate '{expr}': {e}") from None


def with_symbol(addr):
    sym = T.symbol(addr)
    return f"0x{addr:016x}" + (f" <{sym}>" if sym else "")


class KitCommand(gdb.Command):
    """Base: a subcommand of `kit` whose run(argv) returns lines."""
    name = ""

    def __init__(self):
        super().__init__("kit " + self.name, gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        try:
            lines = self.run(gdb.string_to_argv(arg))
        except KitError as e:
            raise gdb.GdbError(f"kit {self.name}: {e}") from None
        gdb.write("\n".join(lines) + "\n")

    def run(self, argv):
        raise NotImplementedError
