/* Lab 4, Part A.2: 32-bit x86 paging, two levels (see warmup.h). */
#include <warmup.h>

/* LAB 4: read the directory entry at t->cr3 + index * X32_ENTRY_SIZE with
 * x86_32_read_entry(). No X32_P: not mapped. X32_PS: a 4 MiB page, whose
 * frame is entry & X32_4M_MASK. Otherwise the entry points at a page table:
 * read the table entry the same way, check X32_P again, and combine its
 * frame (X32_ADDR_MASK) with the 12-bit offset. */
bool x86_32_translate(const struct x86_32_table *t, uint32_t va, uint32_t *pa)
{
    LAB_STUB(4, "x86_32_translate");
}
