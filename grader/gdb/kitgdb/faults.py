"""Exception error codes and struct trapframe (labs/kernel/include/kit/trap.h).

Page-fault error code (SDM vol. 3 4.7; the kit's <kit/pferr.h>):
  bit 0 P: 1 protection violation / 0 not present   bit 1 W: write / read
  bit 2 U: CPL 3 / supervisor   bit 3 RSVD   bit 4 I: fetch   bit 5 PK
  bit 6 SS: shadow stack   bit 15 SGX
Selector error code (#TS #NP #SS #GP, SDM vol. 3 6.13):
  bit 0 EXT   bit 1 IDT   bit 2 TI (LDT)   bits 15..3 index
"""
from .descriptors import ERROR_CODE_VECTORS, mnemonic

PFERR_P, PFERR_W, PFERR_U, PFERR_RSVD, PFERR_I, PFERR_PK, PFERR_SS = (1 << b for b in range(7))
PFERR_SGX = 1 << 15
PFERR_BITS = [  # (mask, name, meaning when set, meaning when clear)
    (PFERR_P, "P", "protection violation on a present page", "the page was not present"),
    (PFERR_W, "W", "the access was a write", "the access was a read"),
    (PFERR_U, "U", "the access came from ring 3", "the access came from ring 0-2"),
    (PFERR_RSVD, "RSVD", "a reserved bit was set in a paging entry", None),
    (PFERR_I, "I", "instruction fetch", None),
    (PFERR_PK, "PK", "protection-key violation", None),
    (PFERR_SS, "SS", "shadow-stack access", None),
    (PFERR_SGX, "SGX", "SGX access-control violation", None),
]
SELERR_EXT, SELERR_IDT, SELERR_TI = 1, 2, 4
SELECTOR_ERROR_VECTORS = (10, 11, 12, 13)  # #TS #NP #SS #GP

# The struct trapframe of <kit/trap.h>, in memory order.
TRAPFRAME_FIELDS = ["r15", "r14", "r13", "r12", "r11", "r10", "r9", "r8", "rbp", "rdi", "rsi",
                    "rdx", "rcx", "rbx", "rax", "vector", "error", "rip", "cs", "rflags", "rsp", "ss"]
TRAPFRAME_BYTES = 8 * len(TRAPFRAME_FIELDS)
CPU_FRAME_FIELDS = ["rip", "cs", "rflags", "rsp", "ss"]  # what the CPU pushes (after any error code)


def pferr_words(err):
    """The kit's short words: 'not-present write supervisor' (like Lab 2's pferr_decode)."""
    words = ["protection" if err & PFERR_P else "not-present", "write" if err & PFERR_W else "read",
             "user" if err & PFERR_U else "supervisor"]
    for mask, word in ((PFERR_RSVD, "reserved-bit"), (PFERR_I, "fetch"), (PFERR_PK, "protection-key"),
                       (PFERR_SS, "shadow-stack"), (PFERR_SGX, "sgx")):
        if err & mask:
            words.append(word)
    return " ".join(words)


def pferr_lines(err):
    lines = [f"error code 0x{err:x} = {pferr_words(err)}"]
    for mask, name, on, off in PFERR_BITS:
        if err & mask or off:
            lines.append(f"  {name:<4} = {1 if err & mask else 0}  {on if err & mask else off}")
    known = sum(m for m, *_ in PFERR_BITS)
    if err & ~known:
        lines.append(f"  bits 0x{err & ~known:x} are not defined for #PF")
    return lines


def selector_error_text(err):
    """#GP/#TS/#NP/#SS error code in words."""
    if err == 0:
        return "0: not about a particular selector (e.g. non-canonical address, privileged " \
               "instruction, null selector, or a limit check)"
    ext = " (raised while delivering an external event)" if err & SELERR_EXT else ""
    if err & SELERR_IDT:
        v = err >> 3
        return f"0x{err:x}: IDT gate {v} ({mnemonic(v)}){ext}: the gate itself is bad"
    table = "LDT" if err & SELERR_TI else "GDT"
    return f"0x{err:x}: selector 0x{err & ~3:x} = {table} index {err >> 3}{ext}"


def error_text(vector, err):
    if vector == 14:
        return f"0x{err:x} = {pferr_words(err)}"
    if vector in SELECTOR_ERROR_VECTORS:
        return selector_error_text(err)
    if vector in ERROR_CODE_VECTORS:
        return f"0x{err:x}"
    return f"0x{err:x} (this vector pushes no error code: the stub's placeholder)"


def fault_key(vector, rip, cr2):
    """What identifies one fault, to see the same one come back."""
    return (vector, rip, cr2 if vector == 14 else None)
