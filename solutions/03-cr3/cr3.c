/*
 * Lab 03, part 1: CR3 and the physical-memory offset mapping.
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/x86.h>
#include <cr3.h>

paddr_t cr3_pml4(void) { return read_cr3() & CR3_ADDR_MASK; }

u64 cr3_flags(void) { return read_cr3() & CR3_FLAGS_MASK; }

void *phys_to_virt(paddr_t pa)
{
    /* The core maps physical memory in 2 MiB pages up to phys_top rounded up. */
    if (pa >= ALIGN_UP(boot_info.phys_top, HUGE_2M))
        panic("phys_to_virt: 0x%lx lies beyond the physical-memory mapping", pa);
    return (void *)(boot_info.phys_offset + pa);
}
