/*
 * map_to() and unmap() (see mapper.h for the contracts).
 *
 * Useful: cr3_pml4() and phys_to_virt() (cr3.h) to reach a table,
 * pt_index() (cr3.h) and is_canonical() (walk.h), the PTE_* flags and PTE_ADDR_MASK
 * (kit/pte.h), invlpg() (kit/x86.h), frame_alloc()/frame_free() (frames.c).
 */
#include "mapper.h"
#include <kit/kit.h>
#include <kit/pte.h>
#include <kit/x86.h>

int map_to(vaddr_t page, paddr_t frame, u64 flags)
{
    /* LAB 5: check the arguments (MAP_ERR_INVALID). Walk from the PML4 down
     * without writing anything, to find out which tables are missing and
     * whether the page is already mapped (MAP_ERR_MAPPED) or covered by a
     * huge page (MAP_ERR_HUGE). Allocate every missing table before linking
     * any of them: when the pool runs dry half-way, give back what you took
     * and return MAP_ERR_NOMEM with the tables untouched. Then zero and link
     * each new table, write the entry, and flush it from the TLB. */
    LAB_STUB(5, "map_to");
}

int unmap(vaddr_t page, paddr_t *frame)
{
    /* LAB 5: find the last-level entry as map_to does, report the frame it
     * holds, clear it and flush the page from the TLB. */
    LAB_STUB(5, "unmap");
}
