/*
 * Lab 1: descriptors, the kernel GDT and TSS, and a call gate.
 * Read handouts/01-segmentation.md first; the layouts are drawn in gdt.h.
 */
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/segments.h>
#include <kit/x86.h>
#include <gdt.h>

/* The storage is given: the CPU writes both (accessed and busy bits), and
 * the grader finds them in the kernel ELF by these names. */
u64 gdt[GDT_ENTRIES] __aligned(16);
struct tss tss __aligned(16);

/*
 * Return the descriptor for a segment of limit+1 bytes (or 4 KiB units when
 * flags has SEG_FLAG_G) at base, with the given access byte and flags nibble.
 * Panics when limit does not fit 20 bits or flags does not fit 4.
 */
u64 seg_encode(u32 base, u32 limit, u8 access, u8 flags)
{
    /* LAB 1: scatter the four fields into one u64 as the diagram in gdt.h
     * shows. Cast to u64 before shifting past bit 31. Try it with the
     * `encode` monitor command: `encode 0 0xfffff 0x9a 0xa` must print
     * 0x00af9a000000ffff, the boot GDT's code descriptor (boot.S). */
    LAB_STUB(1, "seg_encode");
}

/*
 * Write the 16-byte system descriptor for a segment at a 64-bit base into
 * desc[0..1]. access must have S clear (a system type such as a TSS).
 */
void sysdesc_encode(u64 desc[2], u64 base, u32 limit, u8 access)
{
    /* LAB 1: the low 8 bytes are seg_encode's layout with flags 0; the next
     * 4 bytes hold base 63:32 and the last 4 stay zero. */
    LAB_STUB(1, "sysdesc_encode");
}

/*
 * Build the kernel GDT and TSS and load them (see gdt.h for the contract).
 */
void gdt_init(void)
{
    /* LAB 1, in three steps (a static helper each keeps them short):
     *  1. the TSS: zero it, rsp[0] = rsp0_stack_top, ist[TSS_IST_DOUBLE_FAULT]
     *     = ist1_stack_top, and an iomap_base past the limit (no I/O bitmap);
     *  2. gdt[]: every slot of <kit/segments.h>, index = SEL_INDEX(selector),
     *     from seg_encode() with the SEG_ACC_* and SEG_FLAG_* macros; the TSS
     *     slot from sysdesc_encode() with SYS_TYPE_TSS_AVAIL;
     *  3. load: lgdt() (x86.h), then CS with a far return (push KERNEL_CS,
     *     push the address to resume at, lretq), DS/ES/SS = KERNEL_DS, FS/GS
     *     = 0, and ltr TSS_SEL.
     * Check with the `gdt` command and QEMU's `info registers`. */
    LAB_STUB(1, "gdt_init");
}

/*
 * Make gdt[CALLGATE_SEL] a present 64-bit call gate, DPL 3, to target in
 * KERNEL_CS. The second 8 bytes hold target 63:32 and a zero type field.
 */
void callgate_install(u64 target)
{
    /* LAB 1: a gate has no base or limit: target 15:0 goes where limit 15:0
     * would, KERNEL_CS where base 15:0 would, target 31:16 in bits 63:48;
     * the access byte is P, DPL 3, SYS_TYPE_CALL_GATE. */
    LAB_STUB(1, "callgate_install");
}
