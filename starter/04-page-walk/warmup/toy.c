/* Lab 4, Part A.1: the linear toy table (see warmup.h for the bit layout). */
#include <warmup.h>

/* LAB 4: the top TOY_INDEX_BITS of va pick an entry; without TOY_PRESENT the
 * address is not mapped. Otherwise the entry's frame number (above the
 * present bit) replaces the index, and the offset is copied unchanged. */
bool toy_translate(const struct toy_table *t, uint32_t va, uint32_t *pa)
{
    LAB_STUB(4, "toy_translate");
}
