/*
 * Lab 03, part 2: the format of one entry, and one chain of entries.
 * Contracts: labs/03-cr3/include/cr3.h. The handout explains each exercise.
 */
#include <kit/kit.h>
#include <cr3.h>

bool pte_is_leaf(pte_t e, enum pt_level level)
{
    /* LAB 3: which levels can map a page, and which bit says so (PTE_PS)?
     * A PT entry always maps a page; a PML4 entry never does. */
    LAB_STUB(3, "pte_is_leaf");
}

pte_t *pte_table(pte_t e)
{
    /* LAB 3: the entry holds a physical address (pte_addr in cr3.h);
     * you need a pointer you can dereference (phys_to_virt). */
    LAB_STUB(3, "pte_table");
}

void pte_print(pte_t e, enum pt_level level)
{
    /* LAB 3: print with kprintf in the format cr3.h gives. Test each bit with
     * the PTE_* masks of kit/pte.h; for a huge leaf, align the address down to
     * pt_span(level). */
    LAB_STUB(3, "pte_print");
}

int pt_chain(vaddr_t va, struct pt_step steps[PT_LEVEL_PML4])
{
    /* LAB 3: start at cr3_pml4(); at each level record the step, using
     * pt_index(va, level) and phys_to_virt to read the entry; stop after a
     * non-present entry or a leaf (pte_is_leaf), else go to pte_addr(entry). */
    LAB_STUB(3, "pt_chain");
}
