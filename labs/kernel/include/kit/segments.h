/*
 * The selector layout every lab's GDT follows (Lab 1 builds it). The core and
 * the later labs rely on these values; the boot GDT of boot.S only has the
 * kernel code selector in common with it.
 *
 *   index  selector  descriptor
 *     0     0x00     null
 *     1     0x08     kernel code, 64-bit, DPL 0
 *     2     0x10     kernel data, DPL 0
 *     3     0x18     user data, DPL 3      (load as 0x1b: RPL 3)
 *     4     0x20     user code, 64-bit, DPL 3 (load as 0x23)
 *     5-6   0x28     TSS, 64-bit available (16 bytes)
 *     7-8   0x38     call gate, 64-bit, DPL 3 (16 bytes)
 */
#ifndef KIT_SEGMENTS_H
#define KIT_SEGMENTS_H

#define SEL_RPL3      3
#define KERNEL_CS     0x08
#define KERNEL_DS     0x10
#define USER_DS       (0x18 | SEL_RPL3)
#define USER_CS       (0x20 | SEL_RPL3)
#define TSS_SEL       0x28
#define CALLGATE_SEL  0x38
#define GDT_ENTRIES   9

#ifndef __ASSEMBLER__
#include <kit/types.h>

/*
 * Drop to ring 3: iretq to rip with rsp, CS = USER_CS, SS = USER_DS, and
 * interrupts off. Needs a loaded GDT with the layout above and a TSS whose
 * RSP0 is valid, so exceptions from ring 3 find a kernel stack. Does not return;
 * ring-3 code comes back only through an exception or a gate.
 */
__noreturn void enter_user(vaddr_t rip, vaddr_t rsp);
#endif

#endif
