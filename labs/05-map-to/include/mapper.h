/*
 * Lab 5: creating mappings.
 *
 * The student side of this lab, one file per concept:
 *
 *   frames.c   a physical frame allocator built from the boot loader's memory map
 *   map.c      map_to() and unmap(): change the live page tables, flush the TLB
 *   demo.c     the "New!" demo: a fresh page that reaches the VGA text frame
 *   demand.c   demand paging: give a lazy page its frame on the first touch
 *
 * map_to() creating the tables a walk is missing (here: a PDPT entry was empty):
 *
 *   CR3 -> PML4 [i4] --present--> PDPT [i3] --empty: alloc + zero a PD, link P|W(|U)
 *                                      |
 *                                      v
 *                                   PD [i2] --empty: alloc + zero a PT, link P|W(|U)
 *                                      |
 *                                      v
 *                                   PT [i1] = frame | flags | P,  then invlpg(page)
 *
 * The helpers of the earlier labs do the reading: cr3_pml4() and
 * phys_to_virt() (Lab 3, cr3.h) reach a table, pt_index() picks its entry,
 * is_canonical() (Lab 4, walk.h) checks an address.
 */
#ifndef MAPPER_H
#define MAPPER_H

#include <kit/pte.h>
#include <kit/types.h>
#include <walk.h> /* Lab 4: is_canonical(), translate(); with Lab 3's <cr3.h>:
                     cr3_pml4(), phys_to_virt(), pt_index(), pte_addr() */

/* ---- the frame allocator (frames.c) ------------------------------------ */

/* frame_init: pass to keep every usable frame (no cap on the pool). */
#define FRAME_POOL_ALL ((u64)-1)
/* frame_alloc: the value meaning "no frame left". Frame 0 is never in the pool. */
#define FRAME_NONE ((paddr_t)0)

/*
 * Build the pool of free frames from the multiboot2 memory map
 * (boot_info.mmap). A frame may enter the pool only if all of its 4 KiB lie
 * in a usable region and outside the kernel image
 * [boot_info.kernel_start, kernel_end) (which holds the boot and core page
 * tables) and outside the multiboot information [mbi_start, mbi_end).
 * Frame 0 stays out. Keep at most max_frames frames (the kit passes the
 * frames= boot parameter, or FRAME_POOL_ALL), so tests can exhaust the pool.
 * Called once, by the kit, before anything else of this lab.
 */
void frame_init(u64 max_frames);

/* Take a free frame out of the pool: its 4 KiB-aligned physical address,
 * or FRAME_NONE when the pool is empty. The frame's contents are whatever
 * was left there: zero it yourself when you need zeros. */
paddr_t frame_alloc(void);

/* Give a frame from frame_alloc() back to the pool. Panics ("frame_free: ...")
 * on an address that is not 4 KiB aligned and on FRAME_NONE: frame 0 is never
 * in the pool (pushed on a linked stack it would read as the empty pool). */
void frame_free(paddr_t frame);

/* ---- mappings (map.c) --------------------------------------------------- */

/* What map_to() and unmap() return: 0, or one negative code per reason. */
enum map_status {
    MAP_OK = 0,
    MAP_ERR_MAPPED = -1,   /* map_to: the page already has a mapping */
    MAP_ERR_HUGE = -2,     /* a PDPT or PD entry on the way is a huge page (PS) */
    MAP_ERR_NOMEM = -3,    /* map_to: no free frame for a missing table */
    MAP_ERR_INVALID = -4,  /* page or frame not 4 KiB aligned, page not canonical,
                              or flags outside MAP_FLAGS_ALLOWED */
    MAP_ERR_UNMAPPED = -5, /* unmap: the page has no mapping */
};

/* The flags a caller may pass to map_to(); map_to adds PTE_P itself. */
#define MAP_FLAGS_ALLOWED                                                                          \
    (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_A | PTE_D | PTE_G | PTE_NX)

/*
 * Map the 4 KiB page at virtual address `page` to the physical frame `frame`
 * in the live page tables (the ones CR3 points at): the last-level entry
 * becomes frame | flags | PTE_P. Each table missing on the way is a fresh
 * frame from frame_alloc(), zeroed, linked from its parent with
 * PTE_P | PTE_W, plus PTE_U when flags has PTE_U; an existing parent entry
 * gets the same bits added. Then the TLB entry of `page` is flushed (invlpg).
 *
 * Returns MAP_OK, or an error after changing nothing at all (every table
 * byte-for-byte as before, no frame kept from the pool): MAP_ERR_INVALID,
 * MAP_ERR_MAPPED, MAP_ERR_HUGE, MAP_ERR_NOMEM (see enum map_status).
 */
int map_to(vaddr_t page, paddr_t frame, u64 flags) __must_check;

/*
 * Remove the 4 KiB mapping of `page`: clear its last-level entry, flush its
 * TLB entry, and store the frame it mapped in *frame. Page tables are not
 * freed. Returns MAP_OK, MAP_ERR_INVALID (page not aligned or not canonical),
 * MAP_ERR_HUGE (a huge page covers it) or MAP_ERR_UNMAPPED, changing
 * nothing on an error.
 */
int unmap(vaddr_t page, paddr_t *frame) __must_check;

/* ---- the "New!" demo (demo.c) ------------------------------------------- */

#define VGA_TEXT_FRAME ((paddr_t)0xb8000) /* the VGA text buffer: 80x25 cells of 2 bytes */
#define VGA_COLS       80
/* The cell where the demo writes: row 12, right of the console's short lines. */
#define DEMO_CELL (12 * VGA_COLS + 72)

/*
 * Map `page` (not mapped yet) to VGA_TEXT_FRAME as kernel data (flags exactly
 * PTE_W | PTE_NX: writable, never executable), and write the four
 * characters "New!" through it, in cells DEMO_CELL..DEMO_CELL+3, each cell
 * being the character in its low byte and `attr` in its high byte.
 * Returns map_to()'s status; writes nothing when the mapping failed.
 */
int new_demo(vaddr_t page, u8 attr);

/* ---- demand paging (demand.c) ------------------------------------------- */

/* The lazy region: nothing is mapped here until it is touched. */
#define LAZY_BASE  ((vaddr_t)0xffffc90000000000)
#define LAZY_SIZE  GiB(1)
#define LAZY_FLAGS (PTE_W | PTE_NX) /* kernel data: writable, never executable */

/*
 * Called by the kit's page-fault handler for a not-present fault at `addr`
 * inside the lazy region. Give the page holding addr a fresh frame, zeroed,
 * mapped with LAZY_FLAGS, so the faulting access can run again.
 * Returns MAP_OK, or map_to()'s error after giving the frame back.
 */
int demand_map(vaddr_t addr);

#endif
