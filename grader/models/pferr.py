"""Lab 2 models: the page-fault error code (SDM vol. 3, 4.7) and the 64-bit
IDT gate (SDM vol. 3, 6.14.1), computed here, never read from the kernel.

The decoder's words follow the contract of pferr_decode in
labs/02-page-fault/include/idt.h; the readers parse the lines the student's
handlers print (formats in the same header).
"""
import itertools
import re

# ---- the page-fault error code ------------------------------------------------

P, W, U, RSVD, I, PK, SS, SGX = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 15
DEFINED = P | W | U | RSVD | I | PK | SS | SGX
# (bit, word when clear, word when set), in bit order
WORDS = [
    (P, "not-present", "protection"),
    (W, "read", "write"),
    (U, "supervisor", "user"),
    (RSVD, None, "reserved-bit"),
    (I, None, "fetch"),
    (PK, None, "protection-key"),
    (SS, None, "shadow-stack"),
    (SGX, None, "sgx"),
]


def decode(err):
    """The words pferr_decode must write for err, as one space-separated string."""
    words = [on if err & bit else off for bit, off, on in WORDS]
    return " ".join(w for w in words if w)


def every_defined_combination():
    """All 256 error codes made of the defined bits only."""
    bits = [bit for bit, _, _ in WORDS]
    return [sum(c) for n in range(len(bits) + 1) for c in itertools.combinations(bits, n)]


def undefined_noise(rng):
    """Random bits that <kit/pferr.h> does not define (the decoder must ignore them)."""
    return rng.getrandbits(32) & ~DEFINED


# ---- 64-bit interrupt and trap gates ----------------------------------------------

GATE_BYTES = 16
TYPE_INTR, TYPE_TRAP = 0xE, 0xF


def encode_gate(handler, sel, gtype, dpl, ist):
    """(lo, hi) quadwords of a present gate."""
    lo = (handler & 0xFFFF) | (sel << 16) | (ist << 32) | (gtype << 40) | (dpl << 45) | (1 << 47)
    lo |= ((handler >> 16) & 0xFFFF) << 48
    hi = handler >> 32
    return lo, hi


def decode_gate(raw):
    """The fields of a 16-byte gate read from memory."""
    lo = int.from_bytes(raw[0:8], "little")
    hi = int.from_bytes(raw[8:16], "little")
    return {
        "offset": (lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16) | ((hi & 0xFFFFFFFF) << 32),
        "selector": (lo >> 16) & 0xFFFF,
        "ist": (lo >> 32) & 0x7,
        "zero_bits": ((lo >> 35) & 0x1F) | (((lo >> 44) & 1) << 5) | ((hi >> 32) << 6),
        "type": (lo >> 40) & 0xF,
        "dpl": (lo >> 45) & 0x3,
        "present": (lo >> 47) & 1,
    }


# ---- readers of the handlers' reports --------------------------------------------

HEX = r"0x[0-9a-fA-F]+"
_PF = re.compile(rf"PAGE FAULT addr=({HEX}) err=({HEX}) \[([^\]\n]*)\]\s*\n\s*rip=({HEX}) "
                 rf"cs=({HEX}) rflags=({HEX}) rsp=({HEX}) ss=({HEX})")
_DF = re.compile(rf"DOUBLE FAULT err=({HEX}) rip=({HEX}) rsp=({HEX}) stack=({HEX})")
_BP = re.compile(rf"BREAKPOINT rip=({HEX}) cs=({HEX})")
_DECODED = re.compile(rf"pferr ({HEX}) \[([^\]\n]*)\]")
_GATE = re.compile(rf"gate lo=({HEX}) hi=({HEX})")


def _ints(groups):
    return [int(g, 16) for g in groups]


def page_fault_report(text):
    """dict(addr, err, flags, rip, cs, rflags, rsp, ss) of the first report, or None."""
    m = _PF.search(text)
    if not m:
        return None
    addr, err, flags, *frame = m.groups()
    out = dict(zip(("rip", "cs", "rflags", "rsp", "ss"), _ints(frame)))
    out.update(addr=int(addr, 16), err=int(err, 16), flags=" ".join(flags.split()))
    return out


def double_fault_report(text):
    m = _DF.search(text)
    return dict(zip(("err", "rip", "rsp", "stack"), _ints(m.groups()))) if m else None


def breakpoint_reports(text):
    return [dict(zip(("rip", "cs"), _ints(m.groups()))) for m in _BP.finditer(text)]


def decoded_lines(text):
    """{code: words} from the output of the `pferr` command."""
    return {int(c, 16): " ".join(w.split()) for c, w in _DECODED.findall(text)}


def gate_line(text):
    m = _GATE.search(text)
    return tuple(_ints(m.groups())) if m else None
