/*
 * Fixture mappings: pages the grader asks for at boot, at addresses it picks
 * at random, so a lab's output about them cannot be memorised. Kit code, not a
 * general map_to: each fixture takes one free PML4 slot and its own tables
 * from a small static pool, and sets exactly one entry per level.
 *
 * Parameters (fw_cfg or command line), N = 0 .. FIXTURES_MAX - 1:
 *
 *     fixN=VA:PA:SIZE:LEAF[:UPPER]        (',' may replace ':')
 *
 *   VA     canonical, aligned to SIZE, in a PML4 slot nobody uses
 *   PA     aligned to SIZE, below FIXTURE_PA_LIMIT
 *   SIZE   4K, 2M or 1G (or the number of bytes)
 *   LEAF   rights of the leaf entry: letters among w (writable), u (user),
 *          x (executable; without it the entry has NX); "-" for none; and p
 *          to set the leaf's PAT bit (bit 7 in a PT entry, bit 12 in a huge
 *          one; with the power-on PAT it still means write-back)
 *   UPPER  rights of the table entries above the leaf (same letters);
 *          default "wux", so the leaf alone decides
 *
 * Example: fix0=0xffffc21840000000:0x40000000:1G:w fix1=0x5e8a1f000:0x1d3000:4K:ux:u
 * A bad or overlapping request panics with the parameter's name.
 */
#ifndef LAB03_FIXTURES_H
#define LAB03_FIXTURES_H

#include <kit/types.h>
#include <kit/pte.h>

#define FIXTURES_MAX     8
#define FIXTURE_PA_LIMIT (1ull << 40) /* qemu64's physical address width */

struct fixture {
    char name[8];     /* the parameter it came from, e.g. "fix3" */
    vaddr_t va;
    paddr_t pa;
    u64 size;         /* PAGE_SIZE, HUGE_2M or HUGE_1G */
    pte_t leaf;       /* PTE_W / PTE_U / PTE_NX of the leaf entry */
    pte_t upper;      /* PTE_W / PTE_U / PTE_NX of the table entries */
    bool pat;         /* set the leaf's PAT bit */
};

/* Read fix0..fix7 and place each one in the current tables (kernel_pml4).
 * Returns how many were placed; panics naming the parameter on a bad one. */
int fixtures_init(void);

/*
 * Place one fixture (f->name names it in panics). Preconditions, checked with
 * a panic: valid size, aligned VA and PA, canonical VA, PML4 slot free, pool
 * not exhausted. Returns the stored copy.
 */
const struct fixture *fixture_place(const struct fixture *f);

/* The fixtures placed so far, in placement order. */
int fixtures_count(void);
const struct fixture *fixture_get(int i);

/* Print "fixN VA PA SIZE LEAF UPPER" for each fixture (the `fixtures` command). */
void fixtures_print(void);

#endif
