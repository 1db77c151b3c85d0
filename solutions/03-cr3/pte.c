/*
 * Lab 03, part 2: the format of one entry, and one chain of entries.
 */
#include <kit/kit.h>
#include <cr3.h>

bool pte_is_leaf(pte_t e, enum pt_level level)
{
    if (level == PT_LEVEL_PT)
        return true;
    if (level == PT_LEVEL_PML4)
        return false; /* bit 7 is reserved in a PML4 entry */
    return (e & PTE_PS) != 0;
}

pte_t *pte_table(pte_t e) { return phys_to_virt(pte_addr(e)); }

/* Names of bits 0..8 in SDM order; bit 7 is PAT in a PT entry. */
static const char *const bit_names[] = {"P", "W", "U", "PWT", "PCD", "A", "D", "PS", "G"};

void pte_print(pte_t e, enum pt_level level)
{
    if (!(e & PTE_P)) {
        kprintf("-");
        return;
    }
    paddr_t addr = pte_addr(e);
    if (level != PT_LEVEL_PT && pte_is_leaf(e, level))
        addr = ALIGN_DOWN(addr, pt_span(level)); /* bit 12 of a huge entry is PAT */
    kprintf("0x%lx", addr);
    for (unsigned bit = PTE_BIT_P; bit < ARRAY_SIZE(bit_names); bit++) {
        if (!(e & (1ull << bit)))
            continue;
        kprintf(" %s", bit == PTE_BIT_PS && level == PT_LEVEL_PT ? "PAT" : bit_names[bit]);
    }
    if (e & PTE_NX)
        kprintf(" NX");
}

int pt_chain(vaddr_t va, struct pt_step steps[PT_LEVEL_PML4])
{
    paddr_t table = cr3_pml4();
    int n = 0;
    for (int level = PT_LEVEL_PML4; level >= PT_LEVEL_PT; level--) {
        struct pt_step *s = &steps[n++];
        s->level = level;
        s->table = table;
        s->index = pt_index(va, level);
        s->entry = ((pte_t *)phys_to_virt(table))[s->index];
        if (!(s->entry & PTE_P) || pte_is_leaf(s->entry, level))
            break;
        table = pte_addr(s->entry);
    }
    return n;
}
