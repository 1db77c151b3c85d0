/*
 * Lab 1 (solution): descriptors, the kernel GDT and TSS, and a call gate.
 */
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/segments.h>
#include <kit/x86.h>
#include <gdt.h>

/* Where each field of an 8-byte descriptor sits (see the diagram in gdt.h). */
#define DESC_LIMIT_LO_MASK 0xffffu   /* limit 15:0 -> bits 15:0 */
#define DESC_BASE_LO_SHIFT 16        /* base 23:0 -> bits 39:16 */
#define DESC_BASE_LO_MASK  0xffffffu
#define DESC_ACCESS_SHIFT  40        /* access byte -> bits 47:40 */
#define DESC_LIMIT_HI_SHIFT 48       /* limit 19:16 -> bits 51:48 */
#define DESC_FLAGS_SHIFT   52        /* flags nibble -> bits 55:52 */
#define DESC_BASE_HI_SHIFT 56        /* base 31:24 -> bits 63:56 */
#define DESC_FLAGS_MAX     0xfu

/* A gate: target 15:0 in bits 15:0, selector in 31:16, target 31:16 in 63:48. */
#define GATE_SEL_SHIFT       16
#define GATE_TARGET_HI_SHIFT 48

u64 gdt[GDT_ENTRIES] __aligned(16);
struct tss tss __aligned(16);

/*
 * Return the descriptor for a segment of limit+1 bytes (or 4 KiB units when
 * flags has SEG_FLAG_G) at base, with the given access byte and flags nibble.
 * Panics when limit does not fit 20 bits or flags does not fit 4.
 */
u64 seg_encode(u32 base, u32 limit, u8 access, u8 flags)
{
    if (limit > SEG_LIMIT_MAX || flags > DESC_FLAGS_MAX)
        panic("seg_encode: limit 0x%x or flags 0x%x too wide", limit, flags);
    u64 d = limit & DESC_LIMIT_LO_MASK;
    d |= (u64)(base & DESC_BASE_LO_MASK) << DESC_BASE_LO_SHIFT;
    d |= (u64)access << DESC_ACCESS_SHIFT;
    d |= (u64)(limit >> 16) << DESC_LIMIT_HI_SHIFT;
    d |= (u64)flags << DESC_FLAGS_SHIFT;
    d |= (u64)(base >> 24) << DESC_BASE_HI_SHIFT;
    return d;
}

/*
 * Write the 16-byte system descriptor for a segment at a 64-bit base into
 * desc[0..1]. access must have S clear (a system type such as a TSS).
 */
void sysdesc_encode(u64 desc[2], u64 base, u32 limit, u8 access)
{
    if (access & SEG_ACC_S)
        panic("sysdesc_encode: access 0x%x is a code/data type", access);
    desc[0] = seg_encode((u32)base, limit, access, 0);
    desc[1] = base >> 32;
}

/* Fill the TSS: the ring-0 stack, the double-fault stack, and no I/O bitmap. */
static void tss_build(void)
{
    memset(&tss, 0, sizeof tss);
    tss.rsp[0] = (u64)rsp0_stack_top;
    tss.ist[TSS_IST_DOUBLE_FAULT] = (u64)ist1_stack_top;
    tss.iomap_base = sizeof tss; /* past the limit: every port is denied to ring 3 */
}

/* Fill gdt[] with the layout of <kit/segments.h>; the gate slot stays empty. */
static void gdt_build(void)
{
    const u8 code = SEG_ACC_P | SEG_ACC_S | SEG_ACC_CODE | SEG_ACC_RW;
    const u8 data = SEG_ACC_P | SEG_ACC_S | SEG_ACC_RW;

    memset(gdt, 0, sizeof gdt);
    gdt[SEL_INDEX(KERNEL_CS)] = seg_encode(0, SEG_LIMIT_MAX, code | SEG_ACC_DPL(0), SEG_FLAG_G | SEG_FLAG_L);
    gdt[SEL_INDEX(KERNEL_DS)] = seg_encode(0, SEG_LIMIT_MAX, data | SEG_ACC_DPL(0), SEG_FLAG_G | SEG_FLAG_DB);
    gdt[SEL_INDEX(USER_DS)] = seg_encode(0, SEG_LIMIT_MAX, data | SEG_ACC_DPL(3), SEG_FLAG_G | SEG_FLAG_DB);
    gdt[SEL_INDEX(USER_CS)] = seg_encode(0, SEG_LIMIT_MAX, code | SEG_ACC_DPL(3), SEG_FLAG_G | SEG_FLAG_L);
    sysdesc_encode(&gdt[SEL_INDEX(TSS_SEL)], (u64)&tss, sizeof tss - 1,
                   SEG_ACC_P | SEG_ACC_DPL(0) | SYS_TYPE_TSS_AVAIL);
}

/*
 * Load gdt[]: lgdt, then CS by a far return (there is no "mov to CS"), the
 * data segment registers by mov, and TR by ltr (which marks the TSS busy).
 */
static void gdt_load(void)
{
    struct dtr d = {.limit = sizeof gdt - 1, .base = (u64)gdt};
    lgdt(&d);
    __asm__ volatile("pushq %[cs]\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "mov %[ds], %%ds\n\t"
                     "mov %[ds], %%es\n\t"
                     "mov %[ds], %%ss\n\t"
                     "mov %[null], %%fs\n\t"
                     "mov %[null], %%gs"
                     :
                     : [cs] "i"(KERNEL_CS), [ds] "r"((u32)KERNEL_DS), [null] "r"(0u)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" ::"r"((u16)TSS_SEL) : "memory");
}

void gdt_init(void)
{
    tss_build();
    gdt_build();
    gdt_load();
}

/*
 * Make gdt[CALLGATE_SEL] a present 64-bit call gate, DPL 3, to target in
 * KERNEL_CS. The second 8 bytes hold target 63:32 and a zero type field.
 */
void callgate_install(u64 target)
{
    u64 *g = &gdt[SEL_INDEX(CALLGATE_SEL)];
    const u8 access = SEG_ACC_P | SEG_ACC_DPL(3) | SYS_TYPE_CALL_GATE;

    g[0] = (target & DESC_LIMIT_LO_MASK) | ((u64)KERNEL_CS << GATE_SEL_SHIFT) |
           ((u64)access << DESC_ACCESS_SHIFT) |
           (((target >> 16) & DESC_LIMIT_LO_MASK) << GATE_TARGET_HI_SHIFT);
    g[1] = target >> 32;
}
