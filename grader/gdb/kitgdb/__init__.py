"""The kit's gdb extension (loaded by grader/gdb/kit.py).

Pure decoders (no gdb needed, testable anywhere):
  bits         named-bit tables and the formatter they share
  cr           CR0 CR2 CR3 CR4 EFER and RFLAGS
  descriptors  GDT descriptors, the 64-bit TSS, IDT gates, selectors
  faults       page-fault and selector error codes, struct trapframe
  pagetable    walks and address-space ranges, formatted
gdb glue:
  target       QEMU through gdb's `monitor`: registers and physical memory, cached per stop
  base         the shared Target, stop counter, expressions, the command base class
  commands     the `kit` prefix, cr, walk, ptdump; register() installs every command
  cmd_tables   kit gdt, kit tss, kit idt
  cmd_faults   kit frame, kit pferr
"""
