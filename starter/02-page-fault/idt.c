/* Lab 2: encoding IDT gates and installing your IDT. */
#include <kit/kit.h>
#include <kit/segments.h>
#include <kit/trap.h>
#include <kit/x86.h>
#include <idt.h>

struct idt_gate idt[IDT_ENTRIES] __aligned(16);

/* LAB 2: build the two quadwords of a gate from the picture in idt.h.
 * Hint: the handler address is split in three pieces; the GATE_BIT_* macros
 * give where every other field starts. Check type, dpl and ist first. */
struct idt_gate idt_gate_encode(u64 handler, u16 sel, u8 type, u8 dpl, u8 ist)
{
    LAB_STUB(2, "idt_gate_encode");
}

/* LAB 2: fill idt for the 32 exceptions from trap_vectors[] (<kit/trap.h>),
 * with #BP callable from ring 3 and #DF on IST_DOUBLE_FAULT, load it with
 * lidt (<kit/x86.h> has struct dtr), and register your three handlers with
 * trap_register(). */
void idt_init(void)
{
    LAB_STUB(2, "idt_init");
}
