/*
 * Lab 4, Part A: three page-table designs, translated by plain functions.
 *
 * Every translator has the same shape:
 *
 *     bool NAME_translate(const struct NAME_table *t, uint32_t va, uint32_t *pa);
 *
 * (the inverted table also takes the address space, pid). It returns true and
 * stores the physical address in *pa when va is mapped, and returns false
 * (leaving *pa alone) when it is not. None of them changes the table.
 *
 * These tables are data, not the machine's own: the translators are compiled
 * into the Lab 4 kernel, and the monitor commands `toy`, `x86_32` and
 * `inverted` (cmd_warmup.c) run them on the tables the kit loaded
 * (warmup_tables.c: the grader's, or a small built-in example set).
 * An unfinished translator stops the kernel with LAB_STUB (<kit/kit.h>).
 */
#ifndef LAB04_WARMUP_H
#define LAB04_WARMUP_H

#include <kit/kit.h> /* panic(), LAB_STUB() */
#include <stdbool.h>
#include <stdint.h>

/* ---- 1. The linear toy table ---------------------------------------------
 *
 *   virtual (16 bits)          15   12 11                  0
 *                             +-------+---------------------+
 *                             | index |       offset        |
 *                             +-------+---------------------+
 *   entry (4 bits)                 3   1  0
 *                             +-------+--+
 *                             | frame |P |
 *                             +-------+--+
 *   physical (15 bits)        14   12 11                  0
 *                             +-------+---------------------+
 *                             | frame |       offset        |
 *                             +-------+---------------------+
 */
#define TOY_OFFSET_BITS 12
#define TOY_INDEX_BITS  4
#define TOY_ENTRIES     (1u << TOY_INDEX_BITS) /* 16 */
#define TOY_PRESENT     0x1u                   /* bit 0 of an entry */
#define TOY_FRAME_SHIFT 1                      /* the frame number sits above P */
#define TOY_FRAME_BITS  3

struct toy_table {
    uint8_t entry[TOY_ENTRIES]; /* only the low 4 bits of each entry are used */
};

/* Precondition: va < 2^16. */
bool toy_translate(const struct toy_table *t, uint32_t va, uint32_t *pa);

/* ---- 2. 32-bit x86 paging: two levels, 4 KiB and 4 MiB pages ------------
 *
 *   31        22 21        12 11          0
 *  +------------+------------+-------------+
 *  | directory  |   table    |   offset    |   4 KiB page
 *  +------------+------------+-------------+
 *  | directory  |        offset (22 bits)  |   4 MiB page (PDE has PS)
 *  +------------+--------------------------+
 *
 * CR3 holds the physical address of the page directory; each of its 1024
 * four-byte entries holds the physical address of a page table (or, with
 * X32_PS, of a 4 MiB frame). Tables live in the simulated physical memory.
 */
#define X32_OFFSET_BITS 12
#define X32_INDEX_BITS  10
#define X32_ENTRIES     (1u << X32_INDEX_BITS) /* 1024 */
#define X32_ENTRY_SIZE  4                      /* bytes */
#define X32_P           0x001u                 /* present */
#define X32_W           0x002u                 /* writable */
#define X32_U           0x004u                 /* user */
#define X32_PS          0x080u                 /* PDE only: maps a 4 MiB page */
#define X32_ADDR_MASK   0xfffff000u            /* table or 4 KiB frame address */
#define X32_4M_MASK     0xffc00000u            /* 4 MiB frame address (PS set) */

struct x86_32_table {
    const uint8_t *mem; /* simulated physical memory: mem[pa] is the byte at pa */
    uint32_t mem_size;  /* bytes in mem */
    uint32_t cr3;       /* physical address of the page directory */
};

/* The little-endian 32-bit entry at physical address pa of t's memory.
 * Panics when pa is not a multiple of X32_ENTRY_SIZE or the entry lies
 * outside the memory (a wrong table address, say). */
static inline uint32_t x86_32_read_entry(const struct x86_32_table *t, uint32_t pa)
{
    if (pa % X32_ENTRY_SIZE || (uint64_t)pa + X32_ENTRY_SIZE > t->mem_size)
        panic("x86_32_read_entry: physical address 0x%x outside the simulated memory "
              "(0x%x bytes) or not aligned", pa, t->mem_size);
    const uint8_t *b = t->mem + pa;
    return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

bool x86_32_translate(const struct x86_32_table *t, uint32_t va, uint32_t *pa);

/* ---- 3. An inverted (hashed) page table -----------------------------------
 *
 * One entry per physical frame, saying which (address space, virtual page)
 * lives there. To translate, hash (pid, vpn) to a bucket, then follow the
 * chain of frames from bucket[h] through .next until an entry matches both
 * pid and vpn. The frame's index is the physical frame number.
 *
 *   virtual (32 bits): vpn = va >> IPT_PAGE_SHIFT, offset = low 12 bits
 *   physical:          frame << IPT_PAGE_SHIFT | offset
 */
#define IPT_PAGE_SHIFT 12
#define IPT_NONE       (-1) /* end of a chain, or an empty bucket */

struct ipt_entry {
    uint32_t pid;  /* address space the frame belongs to */
    uint32_t vpn;  /* virtual page number mapped to this frame */
    int32_t next;  /* next frame in the same chain, or IPT_NONE */
    uint32_t used; /* 0: the frame is free, pid and vpn mean nothing */
};

struct ipt_table {
    const struct ipt_entry *frame; /* frame[f] describes physical frame f */
    uint32_t nframes;
    const int32_t *bucket; /* bucket[h]: first frame of chain h, or IPT_NONE */
    uint32_t nbuckets;
};

/* The bucket of (pid, vpn): mix both into 32 bits (the finishing steps of
 * MurmurHash3), so neighbouring pages and address spaces spread out. */
static inline uint32_t ipt_hash(uint32_t pid, uint32_t vpn, uint32_t nbuckets)
{
    uint32_t x = vpn ^ (pid * 0x9e3779b9u);
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    return x % nbuckets;
}

/* Translate va in address space pid. */
bool ipt_translate(const struct ipt_table *t, uint32_t pid, uint32_t va, uint32_t *pa);

#endif
