"""Control registers, EFER and RFLAGS with Intel's bit names (SDM vol. 3 2.5, 2.2.1)."""
from .bits import hex64, set_names, unknown_bits

CR0_BITS = [
    (0, "PE", "protected mode"),
    (1, "MP", "monitor coprocessor"),
    (2, "EM", "x87 emulation"),
    (3, "TS", "task switched (lazy FPU)"),
    (4, "ET", "extension type (always 1)"),
    (5, "NE", "native x87 errors"),
    (16, "WP", "write protect: ring 0 obeys read-only pages"),
    (18, "AM", "alignment mask (with RFLAGS.AC)"),
    (29, "NW", "not write-through"),
    (30, "CD", "cache disable"),
    (31, "PG", "paging"),
]
CR4_BITS = [
    (0, "VME", "virtual-8086 extensions"),
    (1, "PVI", "protected-mode virtual interrupts"),
    (2, "TSD", "rdtsc only in ring 0"),
    (3, "DE", "debugging extensions"),
    (4, "PSE", "4 MiB pages (32-bit paging)"),
    (5, "PAE", "physical address extension (needed by long mode)"),
    (6, "MCE", "machine check"),
    (7, "PGE", "global pages (G bit honoured)"),
    (8, "PCE", "rdpmc in ring 3"),
    (9, "OSFXSR", "fxsave/fxrstor, SSE"),
    (10, "OSXMMEXCPT", "SIMD exceptions"),
    (11, "UMIP", "sgdt/sidt/sldt/smsw/str only in ring 0"),
    (12, "LA57", "5-level paging"),
    (13, "VMXE", "VMX"),
    (14, "SMXE", "SMX"),
    (16, "FSGSBASE", "rd/wr fs/gs base instructions"),
    (17, "PCIDE", "process-context identifiers in CR3"),
    (18, "OSXSAVE", "xsave"),
    (20, "SMEP", "ring 0 may not execute user pages"),
    (21, "SMAP", "ring 0 may not touch user pages (unless RFLAGS.AC)"),
    (22, "PKE", "protection keys for user pages"),
    (23, "CET", "control-flow enforcement"),
    (24, "PKS", "protection keys for supervisor pages"),
]
EFER_BITS = [
    (0, "SCE", "syscall/sysret"),
    (8, "LME", "long mode enabled"),
    (10, "LMA", "long mode active (LME and CR0.PG)"),
    (11, "NXE", "no-execute: PTE bit 63 is NX (else reserved)"),
    (12, "SVME", "SVM"),
    (13, "LMSLE", "long-mode segment limits"),
    (14, "FFXSR", "fast fxsave"),
    (15, "TCE", "translation cache extension"),
]
RFLAGS_BITS = [
    (0, "CF", "carry"), (2, "PF", "parity"), (4, "AF", "adjust"), (6, "ZF", "zero"),
    (7, "SF", "sign"), (8, "TF", "trap (single step)"), (9, "IF", "interrupts enabled"),
    (10, "DF", "direction"), (11, "OF", "overflow"), (14, "NT", "nested task"),
    (16, "RF", "resume"), (17, "VM", "virtual-8086"), (18, "AC", "alignment check / SMAP override"),
    (19, "VIF", "virtual IF"), (20, "VIP", "virtual IF pending"), (21, "ID", "cpuid"),
]
RFLAGS_IOPL_SHIFT = 12
CR3_ADDR_MASK = 0x000FFFFFFFFFF000
CR3_PWT, CR3_PCD = 1 << 3, 1 << 4
CR4_PCIDE, CR4_LA57 = 1 << 17, 1 << 12
CR0_PE, CR0_WP, CR0_PG = 1 << 0, 1 << 16, 1 << 31
CR4_PAE = 1 << 5
EFER_LME, EFER_LMA, EFER_NXE = 1 << 8, 1 << 10, 1 << 11


def flags_text(value, table, width=64):
    names = set_names(value, table)
    extra = unknown_bits(value, table, width)
    if extra:
        names.append(f"?0x{extra:x}")
    return " ".join(names) or "(none)"


def rflags_text(value):
    text = flags_text(value & ~(3 << RFLAGS_IOPL_SHIFT) & ~2, RFLAGS_BITS)  # bit 1 is always 1
    return f"{text} IOPL={(value >> RFLAGS_IOPL_SHIFT) & 3}"


def paging_mode(cr0, cr4, efer):
    """The paging mode these registers select, in words."""
    if not cr0 & CR0_PG:
        return "paging off (virtual = physical)"
    if not cr4 & CR4_PAE:
        return "32-bit paging (not the kit's 4-level walk)"
    if not efer & EFER_LMA:
        return "PAE paging (32-bit, 3 levels)"
    return "5-level paging" if cr4 & CR4_LA57 else "4-level paging"


def cpu_mode(r):
    """'64-bit long mode, CPL 0' and so on, from parsed `info registers`."""
    cs = r.seg.get("CS")
    if not r.gpr.get("CR0", 0) & CR0_PE:
        return "real mode"
    if r.gpr.get("EFER", 0) & EFER_LMA:
        return f"{'64-bit' if cs and cs.l else 'compatibility'} mode, CPL {r.cpl}"
    return f"32-bit protected mode, CPL {r.cpl}"


def report(r, cr2_symbol=""):
    """The lines of `kit cr` for parsed `info registers` r."""
    cr0, cr2, cr3 = r.gpr.get("CR0", 0), r.gpr.get("CR2", 0), r.gpr.get("CR3", 0)
    cr4, efer = r.gpr.get("CR4", 0), r.gpr.get("EFER", 0)
    pcid = cr3 & 0xFFF if cr4 & CR4_PCIDE else None
    cr3_bits = f"PCID {pcid}" if pcid is not None else \
        " ".join(n for b, n in ((CR3_PWT, "PWT"), (CR3_PCD, "PCD")) if cr3 & b) or "PWT=0 PCD=0"
    lines = [
        f"CR0  {hex64(cr0)}  {flags_text(cr0, CR0_BITS, 32)}",
        f"CR2  {hex64(cr2)}  last page-fault address{cr2_symbol}",
        f"CR3  {hex64(cr3)}  PML4 at 0x{cr3 & CR3_ADDR_MASK:x}, {cr3_bits}",
        f"CR4  {hex64(cr4)}  {flags_text(cr4, CR4_BITS, 32)}",
        f"EFER {hex64(efer)}  {flags_text(efer, EFER_BITS, 16)}",
        f"mode: {cpu_mode(r)}, {paging_mode(cr0, cr4, efer)}"
        + ("" if not cr0 & CR0_PG else ", NX " + ("on" if efer & EFER_NXE else "off (bit 63 reserved)")),
    ]
    for warn in warnings(cr0, cr4, efer):
        lines.append("note: " + warn)
    return lines


def warnings(cr0, cr4, efer):
    out = []
    if cr0 & CR0_PG and not cr0 & CR0_WP:
        out.append("CR0.WP=0: ring 0 writes to read-only pages succeed (no #PF)")
    if cr4 & (1 << 20):
        out.append("SMEP on: ring 0 fetching from a user page faults (#PF with I=1)")
    if cr4 & (1 << 21):
        out.append("SMAP on: ring 0 touching a user page faults unless RFLAGS.AC=1")
    return out
