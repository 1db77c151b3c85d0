/*
 * map_to() and unmap(): change the live page tables one 4 KiB page at a time.
 * Both walk from the PML4 (cr3_pml4) down the levels with pt_index(), reading
 * each table through phys_to_virt().
 */
#include "mapper.h"
#include <kit/kit.h>
#include <kit/pte.h>
#include <kit/x86.h>

/* The entry for va in the table at physical address table, a level-`level` table. */
static pte_t *entry_at(paddr_t table, vaddr_t va, int level)
{
    pte_t *entries = phys_to_virt(table);
    return &entries[pt_index(va, level)];
}

static bool page_ok(vaddr_t page)
{
    return page % PAGE_SIZE == 0 && is_canonical(page);
}

/*
 * Walk toward va's last-level entry without changing anything. Returns the
 * level of the first entry that is not present (PT_LEVEL_PT when the walk
 * reached the PT), and that entry in *slot; or 0 with *slot on the entry
 * when a PDPT or PD entry is a huge page.
 */
static int walk_existing(vaddr_t va, pte_t **slot)
{
    paddr_t table = cr3_pml4();
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--) {
        pte_t *e = entry_at(table, va, level);
        *slot = e;
        if (!(*e & PTE_P))
            return level;
        if (*e & PTE_PS)
            return 0;
        table = *e & PTE_ADDR_MASK;
    }
    *slot = entry_at(table, va, PT_LEVEL_PT);
    return PT_LEVEL_PT;
}

/* Take n frames, all or none: true with them in frames[], or false. */
static bool alloc_tables(paddr_t *frames, int n)
{
    for (int i = 0; i < n; i++) {
        frames[i] = frame_alloc();
        if (frames[i] == FRAME_NONE) {
            while (i-- > 0)
                frame_free(frames[i]);
            return false;
        }
    }
    return true;
}

/* Walk down to va's PT, linking the tables in fresh[] where entries are missing. */
static pte_t *descend_creating(vaddr_t va, pte_t parent_flags, const paddr_t *fresh)
{
    paddr_t table = cr3_pml4();
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--) {
        pte_t *e = entry_at(table, va, level);
        if (!(*e & PTE_P)) {
            memset(phys_to_virt(*fresh), 0, PAGE_SIZE); /* zero before linking */
            *e = *fresh++;
        }
        *e |= parent_flags;
        table = *e & PTE_ADDR_MASK;
    }
    return entry_at(table, va, PT_LEVEL_PT);
}

int map_to(vaddr_t page, paddr_t frame, u64 flags)
{
    if (!page_ok(page) || frame & ~PTE_ADDR_MASK || flags & ~MAP_FLAGS_ALLOWED)
        return MAP_ERR_INVALID;
    pte_t *slot;
    int missing = walk_existing(page, &slot);
    if (missing == 0)
        return MAP_ERR_HUGE;
    if (missing == PT_LEVEL_PT && (*slot & PTE_P))
        return MAP_ERR_MAPPED;

    paddr_t fresh[PT_LEVEL_PML4 - PT_LEVEL_PT];
    int need = missing - PT_LEVEL_PT; /* tables below the first missing entry, plus it */
    if (!alloc_tables(fresh, need))
        return MAP_ERR_NOMEM;

    pte_t *leaf = descend_creating(page, PTE_P | PTE_W | (flags & PTE_U), fresh);
    *leaf = frame | flags | PTE_P;
    invlpg(page);
    return MAP_OK;
}

int unmap(vaddr_t page, paddr_t *frame)
{
    if (!page_ok(page))
        return MAP_ERR_INVALID;
    pte_t *slot;
    int missing = walk_existing(page, &slot);
    if (missing == 0)
        return MAP_ERR_HUGE;
    if (missing != PT_LEVEL_PT || !(*slot & PTE_P))
        return MAP_ERR_UNMAPPED;
    *frame = *slot & PTE_ADDR_MASK;
    *slot = 0;
    invlpg(page);
    return MAP_OK;
}
