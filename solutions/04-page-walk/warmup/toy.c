/* Lab 4, Part A.1 (solution): the linear toy table. */
#include <warmup.h>

bool toy_translate(const struct toy_table *t, uint32_t va, uint32_t *pa)
{
    uint32_t offset = va & ((1u << TOY_OFFSET_BITS) - 1);
    uint8_t entry = t->entry[(va >> TOY_OFFSET_BITS) % TOY_ENTRIES];
    if (!(entry & TOY_PRESENT))
        return false;
    uint32_t frame = (entry >> TOY_FRAME_SHIFT) & ((1u << TOY_FRAME_BITS) - 1);
    *pa = frame << TOY_OFFSET_BITS | offset;
    return true;
}
