/* Lab 4, Part A.3 (solution): an inverted page table with hash chains. */
#include <warmup.h>

bool ipt_translate(const struct ipt_table *t, uint32_t pid, uint32_t va, uint32_t *pa)
{
    uint32_t vpn = va >> IPT_PAGE_SHIFT;
    for (int32_t f = t->bucket[ipt_hash(pid, vpn, t->nbuckets)]; f != IPT_NONE;
         f = t->frame[f].next) {
        const struct ipt_entry *e = &t->frame[f];
        if (e->used && e->pid == pid && e->vpn == vpn) {
            *pa = (uint32_t)f << IPT_PAGE_SHIFT | (va & ((1u << IPT_PAGE_SHIFT) - 1));
            return true;
        }
    }
    return false;
}
