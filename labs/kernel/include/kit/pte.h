/*
 * x86-64 four-level paging: entry flags and sizes (Intel SDM names).
 *
 *  63  62..52 51 ........... 12 11..9  8   7   6   5   4   3   2   1   0
 * +---+------+------------------+-----+---+---+---+---+---+---+---+---+---+
 * |XD | avail| frame address    |avail| G |PS | D | A |PCD|PWT|U/S|R/W| P |
 * +---+------+------------------+-----+---+---+---+---+---+---+---+---+---+
 *
 * A virtual address is split 9/9/9/9/12:
 *
 *  63     48 47    39 38    30 29    21 20    12 11         0
 * +---------+--------+--------+--------+--------+------------+
 * | sign ext| PML4   | PDPT   |  PD    |  PT    |  offset    |
 * +---------+--------+--------+--------+--------+------------+
 *              L4       L3       L2       L1
 */
#ifndef KIT_PTE_H
#define KIT_PTE_H

#include <kit/types.h>

typedef u64 pte_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1ull << PAGE_SHIFT)        /* 4 KiB */
#define HUGE_2M    (1ull << 21)
#define HUGE_1G    (1ull << 30)
#define PT_ENTRIES 512                          /* entries in every table */

/* Levels, counted as the SDM does: the walk starts at level 4. */
enum pt_level { PT_LEVEL_PT = 1, PT_LEVEL_PD = 2, PT_LEVEL_PDPT = 3, PT_LEVEL_PML4 = 4 };

#define PTE_BIT_P    0  /* present */
#define PTE_BIT_W    1  /* writable */
#define PTE_BIT_U    2  /* user-accessible */
#define PTE_BIT_PWT  3  /* write-through */
#define PTE_BIT_PCD  4  /* cache disable */
#define PTE_BIT_A    5  /* accessed: set by the CPU */
#define PTE_BIT_D    6  /* dirty: set by the CPU on a write (leaf entries) */
#define PTE_BIT_PS   7  /* page size: a huge-page leaf in a PDPT or PD entry */
#define PTE_BIT_G    8  /* global: kept in the TLB across CR3 loads */
#define PTE_BIT_NX   63 /* execute disable (needs EFER.NXE) */
#define PTE_BIT_PAT      7  /* memory type (PAT index bit) of a 4 KiB leaf: same bit as PS */
#define PTE_BIT_PAT_HUGE 12 /* memory type (PAT index bit) of a 2 MiB or 1 GiB leaf */

#define PTE_P   (1ull << PTE_BIT_P)
#define PTE_W   (1ull << PTE_BIT_W)
#define PTE_U   (1ull << PTE_BIT_U)
#define PTE_PWT (1ull << PTE_BIT_PWT)
#define PTE_PCD (1ull << PTE_BIT_PCD)
#define PTE_A   (1ull << PTE_BIT_A)
#define PTE_D   (1ull << PTE_BIT_D)
#define PTE_PS  (1ull << PTE_BIT_PS)
#define PTE_G   (1ull << PTE_BIT_G)
#define PTE_NX  (1ull << PTE_BIT_NX)
#define PTE_PAT      (1ull << PTE_BIT_PAT)
#define PTE_PAT_HUGE (1ull << PTE_BIT_PAT_HUGE)

/* Bits 12..51 of an entry hold the physical address of a frame or a table. */
#define PTE_ADDR_MASK 0x000ffffffffff000ull
/* CR3 holds the PML4's physical address in the same bits, PWT/PCD below. */
#define CR3_ADDR_MASK PTE_ADDR_MASK

#endif
