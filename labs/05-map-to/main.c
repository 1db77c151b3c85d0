/*
 * Lab 5's kernel: the earlier labs' GDT and IDT, then the student's frame
 * allocator over a pool the grader may shrink, the lab's #PF handler for
 * demand paging, and the monitor commands of commands.c.
 *
 * Parameters: frames=N (keep at most N frames in the pool),
 * fill=0x... (the u64 written over every free frame at boot, so a frame
 * handed out without zeroing shows it; fill=0 skips it), trim=N (move every
 * usable region's start up and its end down by N bytes before frame_init, as
 * a firmware whose memory map is not page-aligned would: the grader gives an
 * N that is not a multiple of 4 KiB, so frame_init's rounding shows).
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

/* trim=N: shrink each usable region by N bytes at both ends (regions too
 * small for it are left alone); the grader applies the same rule to its copy
 * of the memory map. */
static void trim_usable_regions(u64 n)
{
    for (int i = 0; n && i < boot_info.mmap_count; i++) {
        struct mmap_region *r = &boot_info.mmap[i];
        if (r->type == MMAP_USABLE && r->len > 2 * n) {
            r->base += n;
            r->len -= 2 * n;
        }
    }
}

void lab_main(void)
{
    gdt_init(); /* Lab 1 */
    idt_init(); /* Lab 2: registers page_fault_handler, which fault_init() chains to */
    trap_serial_gate(idt, IDT_ENTRIES); /* the kit's: the UART's interrupt (vector 36) */
    if (!(rdmsr(MSR_EFER) & EFER_NXE))
        panic("lab_main: this lab needs a CPU with NX (LAZY_FLAGS has PTE_NX)");
    trim_usable_regions(kit_param_u64("trim", 0));
    frame_init(kit_param_u64("frames", FRAME_POOL_ALL));
    u64 pool = pool_scribble(kit_param_u64("fill", DEFAULT_FILL));
    fault_init();
    kprintf("lab5: pool %lu frames; lazy region 0x%lx-0x%lx; multiboot info 0x%lx-0x%lx\n", pool,
            LAZY_BASE, LAZY_BASE + LAZY_SIZE, boot_info.mbi_start, boot_info.mbi_end);
    kprintf("lab5: try help, alloc, map, read, unmap\n");
}
