/*
 * The kit's view of the student's frame allocator. The kit can take every
 * frame the allocator has ("hold"), check each against the boot information,
 * fill them with a pattern and give them back. Held frames form a list linked
 * through their first eight bytes; a bitmap catches a frame handed out twice.
 * Frames that fail a check are reported and never written.
 */
#include "lab5.h"
#include "mapper.h"
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/pte.h>

#define MAX_PHYS     GiB(4) /* the most memory the core's offset mapping covers */
#define BITMAP_BYTES (MAX_PHYS / PAGE_SIZE / 8)
#define MAX_BAD      16 /* stop taking frames after this many bad ones */

static u8 held_bits[BITMAP_BYTES];
static paddr_t held_head; /* list of held frames, FRAME_NONE-terminated */
static u64 held_count;

void *kit_phys(paddr_t pa)
{
    return (void *)(boot_info.phys_offset + pa);
}

/* The bitmap byte and bit of a frame. */
#define HELD_BYTE(pa) held_bits[(pa) / PAGE_SIZE / 8]
#define HELD_BIT(pa)  ((u8)(1u << ((pa) / PAGE_SIZE % 8)))

static bool is_held(paddr_t pa)
{
    return HELD_BYTE(pa) & HELD_BIT(pa);
}

static void set_held(paddr_t pa, bool on)
{
    if (on)
        HELD_BYTE(pa) |= HELD_BIT(pa);
    else
        HELD_BYTE(pa) &= (u8)~HELD_BIT(pa);
}

static bool overlaps(paddr_t a, u64 len, paddr_t start, paddr_t end)
{
    return a < end && start < a + len;
}

/* Does the frame lie entirely inside one usable region of the memory map? */
static bool in_usable_region(paddr_t pa)
{
    for (int i = 0; i < boot_info.mmap_count; i++) {
        const struct mmap_region *r = &boot_info.mmap[i];
        if (r->type == MMAP_USABLE && pa >= r->base && pa + PAGE_SIZE <= r->base + r->len)
            return true;
    }
    return false;
}

/* Why frame_alloc() must not have returned pa, or NULL when pa is fine:
 * checked against boot_info (memory map, kernel image, multiboot info) and
 * the frames the kit already holds. Static: it knows which frames are usable,
 * which is frame_init()'s to find out (labs/05-map-to/api.txt). */
static const char *frame_problem(paddr_t pa)
{
    if (pa % PAGE_SIZE)
        return "not 4 KiB aligned";
    if (pa == 0)
        return "frame 0";
    if (pa >= boot_info.phys_top || pa >= MAX_PHYS || !in_usable_region(pa))
        return "not in a usable region of the memory map";
    for (int i = 0; i < boot_info.mmap_count; i++) /* usable regions may overlap others */
        if (boot_info.mmap[i].type != MMAP_USABLE &&
            overlaps(pa, PAGE_SIZE, boot_info.mmap[i].base,
                     boot_info.mmap[i].base + boot_info.mmap[i].len))
            return "in a reserved region of the memory map";
    if (overlaps(pa, PAGE_SIZE, boot_info.kernel_start, boot_info.kernel_end))
        return "inside the kernel image";
    if (overlaps(pa, PAGE_SIZE, boot_info.mbi_start, boot_info.mbi_end))
        return "inside the multiboot information";
    if (is_held(pa))
        return "handed out twice";
    return NULL;
}

/* Push a checked frame on the held list (its first eight bytes link it). */
static void hold_one(paddr_t pa)
{
    set_held(pa, true);
    *(paddr_t *)kit_phys(pa) = held_head;
    held_head = pa;
    held_count++;
}

/* Pop the most recently held frame. Precondition: held_count > 0. */
static paddr_t unhold_one(void)
{
    paddr_t pa = held_head;
    held_head = *(paddr_t *)kit_phys(pa);
    set_held(pa, false);
    held_count--;
    return pa;
}

/* Print the held frames as runs of consecutive frames, in address order. */
static void print_held_runs(void)
{
    paddr_t top = boot_info.phys_top < MAX_PHYS ? boot_info.phys_top : MAX_PHYS;
    paddr_t start = 0;
    bool in_run = false;
    for (paddr_t pa = 0; pa <= top; pa += PAGE_SIZE) {
        bool held = pa < top && is_held(pa);
        if (held && !in_run)
            start = pa;
        else if (!held && in_run)
            kprintf("frames 0x%lx-0x%lx\n", start, pa);
        in_run = held;
    }
}

paddr_t pool_take(void)
{
    paddr_t pa = frame_alloc();
    if (pa == FRAME_NONE) {
        kprintf("alloc 0x0 (FRAME_NONE: pool empty)\n");
        return FRAME_NONE;
    }
    const char *why = frame_problem(pa);
    kprintf("alloc 0x%lx\n", pa);
    if (!why)
        return pa;
    kdiag("bad frame 0x%lx from frame_alloc: %s", pa, why);
    return FRAME_NONE;
}

u64 pool_hold(u64 keep, bool list)
{
    u64 bad = 0;
    for (paddr_t pa; bad < MAX_BAD && (pa = frame_alloc()) != FRAME_NONE;) {
        const char *why = frame_problem(pa);
        if (why) { /* never write it; stop when the allocator goes on repeating */
            kdiag("bad frame 0x%lx from frame_alloc: %s", pa, why);
            bad = is_held(pa) ? MAX_BAD : bad + 1;
            continue;
        }
        hold_one(pa);
    }
    if (list)
        print_held_runs();
    for (; keep > 0 && held_count > 0; keep--)
        frame_free(unhold_one());
    return held_count;
}

u64 pool_release(void)
{
    u64 n = held_count;
    while (held_count > 0)
        frame_free(unhold_one());
    return n;
}

u64 pool_scribble(u64 pattern)
{
    pool_hold(0, false);
    for (paddr_t pa = held_head; pattern && pa != FRAME_NONE;) {
        u64 *words = kit_phys(pa);
        paddr_t next = words[0];
        for (u64 i = 1; i < PAGE_SIZE / sizeof(u64); i++)
            words[i] = pattern;
        pa = next;
    }
    return pool_release();
}

const char *map_status_name(int status)
{
    switch (status) {
    case MAP_OK:
        return "MAP_OK";
    case MAP_ERR_MAPPED:
        return "MAP_ERR_MAPPED";
    case MAP_ERR_HUGE:
        return "MAP_ERR_HUGE";
    case MAP_ERR_NOMEM:
        return "MAP_ERR_NOMEM";
    case MAP_ERR_INVALID:
        return "MAP_ERR_INVALID";
    case MAP_ERR_UNMAPPED:
        return "MAP_ERR_UNMAPPED";
    default:
        return "(unknown status)";
    }
}
