/* Lab 2: encoding IDT gates and installing the student's IDT. */
#include <kit/kit.h>
#include <kit/segments.h>
#include <kit/trap.h>
#include <kit/x86.h>
#include <idt.h>

#define OFFSET_LOW_MASK  0xffffull     /* handler bits 15..0 go to lo bits 15..0 */
#define OFFSET_MID_SHIFT 16            /* handler bits 31..16 ... */
#define OFFSET_MID_POS   48            /* ... go to lo bits 63..48 */
#define OFFSET_HIGH_SHIFT 32           /* handler bits 63..32 go to hi bits 31..0 */

struct idt_gate idt[IDT_ENTRIES] __aligned(16);

struct idt_gate idt_gate_encode(u64 handler, u16 sel, u8 type, u8 dpl, u8 ist)
{
    if (type != GATE_TYPE_INTR && type != GATE_TYPE_TRAP)
        panic("idt_gate_encode: bad type 0x%x", type);
    if (dpl > GATE_DPL_MAX || ist > GATE_IST_MAX)
        panic("idt_gate_encode: bad dpl %u or ist %u", dpl, ist);
    struct idt_gate g;
    g.lo = (handler & OFFSET_LOW_MASK) | ((u64)sel << GATE_BIT_SEL) | ((u64)ist << GATE_BIT_IST) |
           ((u64)type << GATE_BIT_TYPE) | ((u64)dpl << GATE_BIT_DPL) | (1ull << GATE_BIT_P) |
           (((handler >> OFFSET_MID_SHIFT) & OFFSET_LOW_MASK) << OFFSET_MID_POS);
    g.hi = handler >> OFFSET_HIGH_SHIFT;
    return g;
}

/* The DPL and IST of exception vector v's gate. */
static u8 gate_dpl(int v) { return v == T_BP ? 3 : 0; }
static u8 gate_ist(int v) { return v == T_DF ? IST_DOUBLE_FAULT : 0; }

void idt_init(void)
{
    memset(idt, 0, sizeof idt);
    for (int v = 0; v < IDT_EXCEPTIONS; v++)
        idt[v] = idt_gate_encode(trap_vectors[v], KERNEL_CS, GATE_TYPE_INTR, gate_dpl(v),
                                 gate_ist(v));
    struct dtr d = {.limit = sizeof idt - 1, .base = (u64)idt};
    lidt(&d);
    trap_register(T_BP, breakpoint_handler);
    trap_register(T_DF, double_fault_handler);
    trap_register(T_PF, page_fault_handler);
}
