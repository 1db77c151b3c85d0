/* Lab 4, Part A.2 (solution): 32-bit x86 paging, two levels. */
#include <warmup.h>

#define X32_OFFSET_MASK ((1u << X32_OFFSET_BITS) - 1)

/* The index va selects in the directory (level 2) or a table (level 1). */
static uint32_t x32_index(uint32_t va, int level)
{
    return (va >> (X32_OFFSET_BITS + X32_INDEX_BITS * (level - 1))) & (X32_ENTRIES - 1);
}

bool x86_32_translate(const struct x86_32_table *t, uint32_t va, uint32_t *pa)
{
    uint32_t pde = x86_32_read_entry(t, (t->cr3 & X32_ADDR_MASK) + x32_index(va, 2) * X32_ENTRY_SIZE);
    if (!(pde & X32_P))
        return false;
    if (pde & X32_PS) {
        *pa = (pde & X32_4M_MASK) | (va & ~X32_4M_MASK);
        return true;
    }
    uint32_t pte = x86_32_read_entry(t, (pde & X32_ADDR_MASK) + x32_index(va, 1) * X32_ENTRY_SIZE);
    if (!(pte & X32_P))
        return false;
    *pa = (pte & X32_ADDR_MASK) | (va & X32_OFFSET_MASK);
    return true;
}
