/* Lab 4, Part A.3: an inverted page table with hash chains (see warmup.h). */
#include <warmup.h>

/* LAB 4: start at t->bucket[ipt_hash(pid, vpn, t->nbuckets)] and follow
 * .next until IPT_NONE. A frame matches only when it is used and both pid
 * and vpn are equal: two address spaces may share a chain, and so may
 * different pages of one space. The matching frame's index is the frame number. */
bool ipt_translate(const struct ipt_table *t, uint32_t pid, uint32_t va, uint32_t *pa)
{
    LAB_STUB(4, "ipt_translate");
}
