/*
 * Lab 2: the interrupt descriptor table and the exception handlers.
 *
 * A 64-bit IDT gate is 16 bytes (SDM vol. 3, 6.14.1):
 *
 *   63               48 47 46 45 44 43   40 39   35 34 32 31      16 15          0
 *  +-------------------+--+-----+--+-------+-------+-----+----------+-------------+
 *  | offset 31..16     |P | DPL |0 | type  | 0     | IST | selector | offset 15..0|  lo
 *  +-------------------+--+-----+--+-------+-------+-----+----------+-------------+
 *  | reserved (0)                          | offset 63..32                         |  hi
 *  +---------------------------------------+---------------------------------------+
 *
 * The exception entry stubs are the core's (trap_vectors[] in <kit/trap.h>):
 * each saves the registers into a struct trapframe and calls trap(), which
 * calls the handler registered with trap_register(). Lab 5 chains its own
 * #PF handler to page_fault_handler().
 */
#ifndef LAB02_IDT_H
#define LAB02_IDT_H

#include <kit/types.h>
#include <kit/trap.h>

/* One 16-byte gate, as the CPU reads it from the IDT. */
struct idt_gate {
    u64 lo; /* offset 15..0, selector, IST, type, DPL, P, offset 31..16 */
    u64 hi; /* offset 63..32; bits 32..63 reserved, zero */
};

/* Gate types (bits 40..43 of lo) in 64-bit mode. */
#define GATE_TYPE_INTR 0xe /* interrupt gate: IF cleared on entry */
#define GATE_TYPE_TRAP 0xf /* trap gate: IF left as it was */

/* Bit positions and widths inside lo. */
#define GATE_BIT_SEL   16 /* code-segment selector, 16 bits */
#define GATE_BIT_IST   32 /* IST index, 3 bits (0: no stack switch by IST) */
#define GATE_BIT_TYPE  40 /* 4 bits */
#define GATE_BIT_DPL   45 /* 2 bits: lowest CPL allowed to use INT n on it */
#define GATE_BIT_P     47 /* present */
#define GATE_IST_MAX   7
#define GATE_DPL_MAX   3

/* Vectors the IDT covers: the 32 exceptions, then room for interrupts. */
#define IDT_ENTRIES    256
#define IDT_EXCEPTIONS 32
/* The IST slot of the TSS (Lab 1) that holds the double-fault stack. */
#define IST_DOUBLE_FAULT 1

/* The student's IDT; IDTR points here after idt_init(). */
extern struct idt_gate idt[IDT_ENTRIES];

/*
 * Encode a present 64-bit gate that sends its vector to handler (a virtual
 * address, all 64 bits used) through code selector sel, with the given type
 * (GATE_TYPE_*), dpl (0..3) and ist (0..7). Panics on a type, dpl or ist out of
 * range.
 */
struct idt_gate idt_gate_encode(u64 handler, u16 sel, u8 type, u8 dpl, u8 ist);

/*
 * Build idt: the 32 exception vectors as interrupt gates on KERNEL_CS to the
 * core's stubs trap_vectors[v], DPL 0 and no IST, except #BP (DPL 3, so ring 3
 * may execute int3) and #DF (IST_DOUBLE_FAULT). The other vectors stay
 * not present. Load it with lidt and register the three handlers below with
 * trap_register(). Needs Lab 1's GDT and TSS (gdt_init) already loaded.
 */
void idt_init(void);

/*
 * Write the names of the page-fault error code's flags into buf (at most size
 * bytes, always NUL-terminated), one word per defined bit of <kit/pferr.h>,
 * separated by single spaces, in bit order:
 *   P    clear "not-present"  set "protection"
 *   W    clear "read"         set "write"
 *   U    clear "supervisor"   set "user"
 *   RSVD, I, PK, SS, SGX: "reserved-bit", "fetch", "protection-key",
 *        "shadow-stack", "sgx" when set, nothing when clear.
 * Bits that <kit/pferr.h> does not define are ignored. Returns the length
 * written, e.g. 0x3 -> "protection write supervisor".
 */
int pferr_decode(u64 err, char *buf, size_t size);

/*
 * #PF: read CR2, decode tf->error with pferr_decode, print the report, then
 * kit_stop(). The report is two lines (hex numbers with 0x, any width):
 *   PAGE FAULT addr=<CR2> err=<error code> [<decoded flags>]
 *     rip=<..> cs=<..> rflags=<..> rsp=<..> ss=<..>
 */
void page_fault_handler(struct trapframe *tf);

/*
 * #DF: print "DOUBLE FAULT err=<..> rip=<..> rsp=<..>" (the interrupted frame)
 * and the handler's own stack pointer as "stack=<..>", then kit_stop(). Runs on
 * the IST 1 stack, so it works even when the kernel stack is gone.
 */
void double_fault_handler(struct trapframe *tf);

/*
 * #BP: print "BREAKPOINT rip=<..> cs=<..>" and return, so the interrupted code
 * continues after its int3.
 */
void breakpoint_handler(struct trapframe *tf);

#endif
