/*
 * Lab 03, part 1: CR3 and the physical-memory offset mapping.
 * Contracts: labs/03-cr3/include/cr3.h. The handout explains each exercise.
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/x86.h>
#include <cr3.h>

paddr_t cr3_pml4(void)
{
    /* LAB 3: read CR3 (read_cr3 in kit/x86.h) and keep only the address bits
     * (CR3_ADDR_MASK in kit/pte.h). */
    LAB_STUB(3, "cr3_pml4");
}

u64 cr3_flags(void)
{
    /* LAB 3: keep only CR3's PWT and PCD bits (CR3_FLAGS_MASK in cr3.h). */
    LAB_STUB(3, "cr3_flags");
}

void *phys_to_virt(paddr_t pa)
{
    /* LAB 3: the core maps all physical memory at boot_info.phys_offset
     * (kit/boot.h, labs/kernel/paging.c), in 2 MiB pages up to
     * boot_info.phys_top rounded up to HUGE_2M. Panic beyond that end. */
    LAB_STUB(3, "phys_to_virt");
}
