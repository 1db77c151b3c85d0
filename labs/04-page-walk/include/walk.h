/*
 * Lab 4: the page walk. Split a virtual address, check it is canonical, and
 * translate it by walking the four levels of tables from CR3, as the MMU does.
 *
 *  63     48 47    39 38    30 29    21 20    12 11         0
 * +---------+--------+--------+--------+--------+------------+
 * | sign ext| PML4   | PDPT   |  PD    |  PT    |  offset    |
 * +---------+--------+--------+--------+--------+------------+
 *            pt_index pt_index pt_index pt_index page_offset
 *            (va, 4)  (va, 3)  (va, 2)  (va, 1)  (va)
 *
 * pt_index(), VA_BITS and PT_INDEX_BITS come from Lab 3's <cr3.h>, included
 * here with cr3_pml4() and phys_to_virt(): a lab that includes walk.h lists
 * 03-cr3 in its LAB_DEPS. Lab 5 builds its mapper on these functions.
 */
#ifndef LAB04_WALK_H
#define LAB04_WALK_H

#include <kit/types.h>
#include <kit/pte.h>
#include <cr3.h> /* Lab 3: pt_index(va, level), pt_shift(), cr3_pml4(), phys_to_virt() */

/* The offset of va inside its 4 KiB page (bits 0..11). */
u64 page_offset(vaddr_t va);

/* True when bits 48..63 of va all equal bit 47 (a "canonical" address);
 * the CPU raises #GP, not #PF, for any other address. */
bool is_canonical(vaddr_t va);

enum tr_status {
    TR_OK,           /* mapped: pa, page_size, rights and level are valid */
    TR_NOT_MAPPED,   /* an entry on the way was not present: level says which */
    TR_NONCANONICAL, /* bits 48..63 do not copy bit 47: no walk was made, level is 0 */
};

/* The result of one walk. Filled in completely by translate(). */
struct translation {
    enum tr_status status;
    paddr_t pa;      /* TR_OK: the physical address va reaches, offset included */
    u64 page_size;   /* TR_OK: PAGE_SIZE, HUGE_2M or HUGE_1G */
    bool writable;   /* TR_OK: every level has PTE_W */
    bool user;       /* TR_OK: every level has PTE_U */
    bool nx;         /* TR_OK: some level has PTE_NX */
    int level;       /* TR_OK: level of the leaf entry (1, 2 or 3);
                        TR_NOT_MAPPED: level whose entry was not present (1..4);
                        TR_NONCANONICAL: 0 */
};

/* Translate va through the tables CR3 points to, without touching memory at va
 * and without changing any entry. Reads tables through phys_to_virt (Lab 3).
 * A huge page ends the walk early: PTE_PS in a PDPT entry maps 1 GiB, in a PD
 * entry 2 MiB. Never fails: every outcome is a status in *out. */
void translate(vaddr_t va, struct translation *out);

#endif
