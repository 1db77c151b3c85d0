/*
 * Lab 03, part 4: a recursive entry, and the tables seen through it.
 * Contracts: labs/03-cr3/include/cr3.h. The handout explains each exercise.
 */
#include <kit/kit.h>
#include <kit/x86.h>
#include <cr3.h>

static int slot = -1; /* the installed recursive slot, -1 before */

void recursive_install(unsigned s)
{
    /* LAB 3: check s, then write the PML4's own physical address into
     * PML4[s] with PTE_P | PTE_W | PTE_NX (no PTE_U). The PML4 is reachable
     * with phys_to_virt(cr3_pml4()). Remember s in slot. */
    LAB_STUB(3, "recursive_install");
}

int recursive_slot(void) { return slot; }

pte_t *recursive_table(vaddr_t va, enum pt_level level)
{
    /* LAB 3: see the table in cr3.h. Put slot in the index positions from
     * PML4 down as many times as the walk must "lose" levels, then va's own
     * indices (pt_index), each shifted by pt_shift; finish with va_canonical. */
    LAB_STUB(3, "recursive_table");
}

pte_t *recursive_pte(vaddr_t va, enum pt_level level)
{
    /* LAB 3: the entry for va inside recursive_table(va, level). */
    LAB_STUB(3, "recursive_pte");
}
