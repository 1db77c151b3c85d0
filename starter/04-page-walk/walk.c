/*
 * Lab 4, Part B: split virtual addresses and walk the four-level page tables.
 * The API and its contracts are in labs/04-page-walk/include/walk.h; the entry
 * flags and levels in <kit/pte.h>. Lab 3's <cr3.h> (included by walk.h) gives
 * you pt_index() (which entry of a table va selects), cr3_pml4() (where the
 * walk starts) and phys_to_virt() (how the kernel reads a table that lives at
 * a physical address).
 */
#include <kit/kit.h>
#include <kit/pte.h>
#include <walk.h>

/* LAB 4: the low PAGE_SHIFT bits. */
u64 page_offset(vaddr_t va)
{
    LAB_STUB(4, "page_offset");
}

/* LAB 4: sign-extend bit VA_BITS-1 to 64 bits (va_canonical() in cr3.h does
 * it) and compare with va. */
bool is_canonical(vaddr_t va)
{
    LAB_STUB(4, "is_canonical");
}

/* LAB 4: check is_canonical() first. Then start at cr3_pml4() and, for each
 * level from PT_LEVEL_PML4 down, read the entry pt_index() selects through
 * phys_to_virt(). Stop when the entry lacks PTE_P (not mapped at this level),
 * has PTE_PS at level 3 or 2 (a huge leaf), or is at level 1 (a 4 KiB leaf).
 * While you go down, AND the PTE_W and PTE_U of every level and OR their
 * PTE_NX. The frame address is entry & PTE_ADDR_MASK; for a huge page, clear
 * the low bits of that address that belong to the offset (bit 12 of a huge
 * entry is PAT, not part of the frame). pt_span(level) is the page size of a
 * leaf at that level. Fill in every field of *out. */
void translate(vaddr_t va, struct translation *out)
{
    LAB_STUB(4, "translate");
}
