/*
 * Lab 4, Part B (solution): split virtual addresses and walk the four-level
 * page tables from CR3, as the MMU does on a TLB miss.
 */
#include <kit/kit.h>
#include <kit/pte.h>
#include <walk.h>

u64 page_offset(vaddr_t va) { return va & (PAGE_SIZE - 1); }

bool is_canonical(vaddr_t va)
{
    unsigned unused = 64 - VA_BITS;
    return (vaddr_t)((i64)(va << unused) >> unused) == va;
}

/* True when entry, read at `level`, maps a page instead of pointing at a table. */
static bool is_leaf(pte_t entry, int level)
{
    return level == PT_LEVEL_PT ||
           ((level == PT_LEVEL_PD || level == PT_LEVEL_PDPT) && (entry & PTE_PS));
}

void translate(vaddr_t va, struct translation *out)
{
    memset(out, 0, sizeof *out);
    if (!is_canonical(va)) {
        out->status = TR_NONCANONICAL;
        return;
    }
    out->writable = out->user = true;
    paddr_t table = cr3_pml4();
    for (int level = PT_LEVEL_PML4; level >= PT_LEVEL_PT; level--) {
        pte_t entry = ((pte_t *)phys_to_virt(table))[pt_index(va, level)];
        out->level = level;
        if (!(entry & PTE_P)) {
            out->status = TR_NOT_MAPPED;
            out->writable = out->user = false;
            return;
        }
        out->writable &= !!(entry & PTE_W);
        out->user &= !!(entry & PTE_U);
        out->nx |= !!(entry & PTE_NX);
        if (is_leaf(entry, level)) {
            u64 size = pt_span(level);
            out->status = TR_OK;
            out->page_size = size;
            out->pa = ((entry & PTE_ADDR_MASK) & ~(size - 1)) | (va & (size - 1));
            return;
        }
        table = entry & PTE_ADDR_MASK;
    }
    panic("translate: walk went below level 1");
}
