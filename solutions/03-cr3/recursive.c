/*
 * Lab 03, part 4: a recursive entry, and the tables seen through it.
 */
#include <kit/kit.h>
#include <kit/x86.h>
#include <cr3.h>

static int slot = -1; /* the installed recursive slot, -1 before */

void recursive_install(unsigned s)
{
    pte_t *pml4 = phys_to_virt(cr3_pml4());
    if (s >= PT_ENTRIES)
        panic("recursive_install: slot %u out of range", s);
    if (pml4[s] & PTE_P)
        panic("recursive_install: slot %u already in use", s);
    pte_t nx = (rdmsr(MSR_EFER) & EFER_NXE) ? PTE_NX : 0; /* NX is reserved without NXE */
    pml4[s] = cr3_pml4() | PTE_P | PTE_W | nx;
    slot = (int)s;
}

int recursive_slot(void) { return slot; }

pte_t *recursive_table(vaddr_t va, enum pt_level level)
{
    if (slot < 0)
        panic("recursive_table: no recursive slot installed");
    /* Positions PML4..level take the slot; the rest take va's indices from the top. */
    u64 addr = 0;
    for (int pos = PT_LEVEL_PML4; pos >= PT_LEVEL_PT; pos--) {
        u64 index = pos >= PT_LEVEL_PML4 + 1 - (int)level ? (u64)slot : pt_index(va, pos + level);
        addr |= index << pt_shift(pos);
    }
    return (pte_t *)va_canonical(addr);
}

pte_t *recursive_pte(vaddr_t va, enum pt_level level)
{
    return recursive_table(va, level) + pt_index(va, level);
}
