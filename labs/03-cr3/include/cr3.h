/*
 * Lab 03: reaching the page tables from a kernel that already runs with paging.
 *
 * CR3 holds the physical address of the level-4 table. Once paging is on, a
 * physical address is only a number: to read a table the kernel needs a
 * virtual address that maps it. This lab uses two ways:
 *
 *   the physical-memory offset mapping   phys_to_virt(pa) = phys_offset + pa
 *
 *       virtual  phys_offset ........ phys_offset + top
 *                     |                    |
 *       physical      0 ................. top
 *
 *   a recursive entry: PML4[R] holds the PML4's own frame, so a walk through
 *   slot R stops one level early and the page it reaches is a table:
 *
 *       table of level L that maps va        indices used by the walk
 *       PML4 (L4)                            R    R    R    R
 *       PDPT (L3)                            R    R    R    i4
 *       PD   (L2)                            R    R    i4   i3
 *       PT   (L1)                            R    i4   i3   i2
 *
 *   (i4 = pt_index(va, PT_LEVEL_PML4), ...; the result is made canonical.)
 *
 * Who writes what: the functions declared under "student" headings live in
 * starter/03-cr3/ (stubs) and solutions/03-cr3/; the inline helpers here are
 * given. Later labs (04, 05) call this API.
 */
#ifndef LAB03_CR3_H
#define LAB03_CR3_H

#include <kit/types.h>
#include <kit/pte.h>

/* ---- given: address arithmetic ------------------------------------------ */

#define PT_INDEX_BITS 9  /* each level consumes 9 bits of the address */
#define VA_BITS       48 /* bits 63..48 copy bit 47 (canonical form) */

/* CR3 bits 3 and 4: cache control of the accesses to the PML4 itself. */
#define CR3_PWT        PTE_PWT
#define CR3_PCD        PTE_PCD
#define CR3_FLAGS_MASK (CR3_PWT | CR3_PCD)

/* Bit position of the lowest address bit an entry of `level` translates. */
static inline unsigned pt_shift(enum pt_level level)
{
    return PAGE_SHIFT + PT_INDEX_BITS * (level - 1);
}

/* Bytes mapped by one entry of `level`: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
static inline u64 pt_span(enum pt_level level) { return 1ull << pt_shift(level); }

/* Index into the table of `level` that the walk for va uses. */
static inline unsigned pt_index(vaddr_t va, enum pt_level level)
{
    return (va >> pt_shift(level)) & (PT_ENTRIES - 1);
}

/* The physical address in bits 12..51 of an entry (a frame or the next table). */
static inline paddr_t pte_addr(pte_t e) { return e & PTE_ADDR_MASK; }

/* Copy bit 47 into bits 63..48, so the address is canonical. */
static inline vaddr_t va_canonical(u64 va)
{
    return (vaddr_t)((i64)(va << (64 - VA_BITS)) >> (64 - VA_BITS));
}

/* "PML4", "PDPT", "PD", "PT". */
static inline const char *pt_level_name(enum pt_level level)
{
    static const char *const names[] = {"?", "PT", "PD", "PDPT", "PML4"};
    return level >= PT_LEVEL_PT && level <= PT_LEVEL_PML4 ? names[level] : names[0];
}

/* ---- student, cr3.c: CR3 and the physical-memory offset mapping ----------- */

/* Physical address of the current PML4 (CR3 bits 12..51). */
paddr_t cr3_pml4(void);

/* CR3's cache-control bits: a combination of CR3_PWT and CR3_PCD. */
u64 cr3_flags(void);

/*
 * A kernel pointer to physical address pa through the offset mapping the core
 * builds (boot_info.phys_offset, different on every boot).
 * Precondition: pa lies below the end of that mapping; panics otherwise.
 */
void *phys_to_virt(paddr_t pa);

/* ---- student, pte.c: one entry, one chain -------------------------------- */

/* True when a present entry of `level` maps memory (a page) rather than
 * pointing at a table of the next level. */
bool pte_is_leaf(pte_t e, enum pt_level level);

/* Kernel pointer to the table a present non-leaf entry points at. */
pte_t *pte_table(pte_t e);

/*
 * Print an entry decoded, without a newline: "-" when not present, else its
 * address as 0x%lx then the names of the set bits, in this order, each
 * preceded by a space: P W U PWT PCD A D PS G NX (at level 1, bit 7 is "PAT").
 * Example: "0x1e3000 P W NX".
 */
void pte_print(pte_t e, enum pt_level level);

/* One step of a walk: which table was read, at which index, what it held. */
struct pt_step {
    enum pt_level level;
    paddr_t table; /* physical address of the table */
    unsigned index;
    pte_t entry;
};

/*
 * Walk the current tables for va from the PML4 down, recording one step per
 * table read, and stop after a leaf or a non-present entry.
 * Returns the number of steps (1..4); steps[0] is the PML4 step.
 */
int pt_chain(vaddr_t va, struct pt_step steps[PT_LEVEL_PML4]);

/* ---- student, ptdump.c: the whole address space --------------------------- */

/* A run of virtually contiguous pages of one size with the same rights. */
struct pt_range {
    vaddr_t start, end; /* canonical; end is exclusive */
    u64 page_size;      /* PAGE_SIZE, HUGE_2M or HUGE_1G */
    pte_t rights;       /* effective rights: PTE_W, PTE_U, PTE_NX combined */
};

typedef void (*pt_range_fn)(const struct pt_range *r, void *ctx);

/*
 * Visit every present leaf of the current tables in address order and call
 * emit once per merged range (adjacent pages of equal size and rights merge).
 * Effective rights: W and U only when every level grants them, NX when any
 * level sets it.
 */
void ptdump_walk(pt_range_fn emit, void *ctx);

/* Given (ptdump.c): print every range, one per line:
 *   "START-END SIZE urwx PAGESIZE"  e.g.
 *   "ffffffff80200000-ffffffff80203000 0000000000003000 -r-x 4K" */
void ptdump(void);

/* ---- student, recursive.c: the recursive entry ---------------------------- */

/*
 * Make PML4[slot] point at the PML4 itself: present, writable, supervisor
 * only, no-execute. Panics when slot is out of range or already in use.
 */
void recursive_install(unsigned slot);

/* The installed slot, or -1 when none. */
int recursive_slot(void);

/*
 * Virtual address, through the recursive slot, of the table of `level` that
 * the walk for va reads (level PT_LEVEL_PML4: the PML4 itself).
 * Precondition: a slot is installed and the tables above `level` exist.
 */
pte_t *recursive_table(vaddr_t va, enum pt_level level);

/* Virtual address, through the recursive slot, of va's entry in that table. */
pte_t *recursive_pte(vaddr_t va, enum pt_level level);

#endif
