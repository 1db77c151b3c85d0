"""Named bits: a table is a list of (bit, name, meaning) in bit order."""


def set_names(value, table):
    """Names of the bits of `table` that are set in value."""
    return [name for bit, name, _ in table if value >> bit & 1]


def unknown_bits(value, table, width=64):
    """The bits set in value that the table does not name."""
    known = 0
    for bit, _, _ in table:
        known |= 1 << bit
    return value & ~known & ((1 << width) - 1)


def describe(value, table):
    """One line per named bit that is set: 'NAME  meaning'."""
    return [f"{name:<10} {meaning}" for bit, name, meaning in table if value >> bit & 1]


def hex64(v):
    return f"0x{v:016x}"
