/*
 * Lab 5's kernel: the earlier labs' GDT and IDT, then the student's frame
 * allocator over a pool the grader may shrink, the lab's #PF handler for
 * demand paging, and the monitor commands of commands.c.
 *
 * Parameters: frames=N (keep at most N frames in the pool),
 * fill=0x... (the u64 written over every free frame at boot, so a frame
 * handed out without zeroing shows it; fill=0 skips it).
 */
#include "lab5.h"
#include "mapper.h"
#include <gdt.h>
#include <idt.h>
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/x86.h>

#define DEFAULT_FILL 0x5a5a5a5a5a5a5a5aull

const char lab_name[] = "05-map-to";

void lab_main(void)
{
    gdt_init(); /* Lab 1 */
    idt_init(); /* Lab 2: registers page_fault_handler, which fault_init() chains to */
    trap_serial_gate(idt, IDT_ENTRIES); /* the kit's: the UART's interrupt (vector 36) */
    if (!(rdmsr(MSR_EFER) & EFER_NXE))
        panic("lab_main: this lab needs a CPU with NX (LAZY_FLAGS has PTE_NX)");
    frame_init(kit_param_u64("frames", FRAME_POOL_ALL));
    u64 pool = pool_scribble(kit_param_u64("fill", DEFAULT_FILL));
    fault_init();
    kprintf("lab5: pool %lu frames; lazy region 0x%lx-0x%lx; multiboot info 0x%lx-0x%lx\n", pool,
            LAZY_BASE, LAZY_BASE + LAZY_SIZE, boot_info.mbi_start, boot_info.mbi_end);
    kprintf("lab5: try help, alloc, map, read, unmap\n");
}
