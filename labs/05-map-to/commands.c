/*
 * Lab 5's monitor commands. The student's functions run on the arguments as
 * given; the kit only prints what they return, and reads memory through
 * probes, so a missing mapping is printed instead of stopping the kernel.
 *
 * The TLB experiment (see the handout): map a page, read it, `clear` its
 * entry behind the TLB's back, read it again (the stale translation still
 * works), then map it to another frame and read: map_to's flush decides
 * which frame the read reaches.
 */
#include "lab5.h"
#include "mapper.h"
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/monitor.h>
#include <kit/pferr.h>
#include <kit/pte.h>
#include <kit/x86.h>

#define VA_SIGN_SHIFT 16 /* bits 63..48 must copy bit 47 */

static bool canonical(vaddr_t va)
{
    return (vaddr_t)((i64)(va << VA_SIGN_SHIFT) >> VA_SIGN_SHIFT) == va;
}

/* Parse argv[1..n] as numbers into v[0..n-1]; print usage and fail otherwise. */
static bool args(int argc, char **argv, int n, u64 *v)
{
    for (int i = 0; i < n; i++)
        if (!monitor_arg_u64(argc, argv, i + 1, &v[i]))
            return false;
    return true;
}

static bool need_canonical(vaddr_t va)
{
    if (!canonical(va))
        kprintf("0x%lx is not canonical (the access would raise #GP, not #PF)\n", va);
    return canonical(va);
}

/* Frames taken with `alloc` and not freed: the only ones `fill` may write,
 * since a free frame may hold the allocator's own bookkeeping. */
#define TAKEN_MAX 64
static paddr_t taken[TAKEN_MAX];

static paddr_t *taken_slot(paddr_t pa)
{
    for (int i = 0; i < TAKEN_MAX; i++)
        if (taken[i] == pa)
            return &taken[i];
    return NULL;
}

static int cmd_alloc(int argc, char **argv)
{
    paddr_t pa = pool_take();
    paddr_t *slot = taken_slot(FRAME_NONE);
    if (pa != FRAME_NONE && slot)
        *slot = pa;
    return 0;
}
MONITOR_COMMAND(alloc, "alloc                take one frame from frame_alloc()", cmd_alloc);

static int cmd_free(int argc, char **argv)
{
    u64 pa;
    if (!args(argc, argv, 1, &pa))
        return 1;
    frame_free(pa);
    paddr_t *slot = taken_slot(pa);
    if (slot)
        *slot = FRAME_NONE;
    kprintf("freed 0x%lx\n", pa);
    return 0;
}
MONITOR_COMMAND(free, "free PA              give a frame back with frame_free()", cmd_free);

static int cmd_hold(int argc, char **argv)
{
    u64 keep = 0;
    if (argc > 1 && !args(argc, argv, 1, &keep))
        return 1;
    bool list = argc > 2 && strcmp(argv[2], "list") == 0;
    u64 held = pool_hold(keep, list);
    kprintf("held %lu frames, pool left with up to %lu\n", held, keep);
    return 0;
}
MONITOR_COMMAND(hold, "hold [KEEP [list]]   take every free frame but KEEP (and list them)",
                cmd_hold);

static int cmd_release(int argc, char **argv)
{
    kprintf("released %lu frames\n", pool_release());
    return 0;
}
MONITOR_COMMAND(release, "release              give back the frames `hold` took", cmd_release);

static int cmd_map(int argc, char **argv)
{
    u64 v[3];
    if (!args(argc, argv, 3, v))
        return 1;
    int r = map_to(v[0], v[1], v[2]);
    kprintf("map_to(0x%lx, 0x%lx, 0x%lx) = %d %s\n", v[0], v[1], v[2], r, map_status_name(r));
    return 0;
}
MONITOR_COMMAND(map,
                "map VA PA FLAGS      map_to(VA, PA, FLAGS), e.g. FLAGS 0x8000000000000002 = W|NX",
                cmd_map);

static int cmd_unmap(int argc, char **argv)
{
    u64 va;
    paddr_t frame = 0;
    if (!args(argc, argv, 1, &va))
        return 1;
    int r = unmap(va, &frame);
    kprintf("unmap(0x%lx) = %d %s", va, r, map_status_name(r));
    kprintf(r == MAP_OK ? " frame 0x%lx\n" : "\n", frame);
    return 0;
}
MONITOR_COMMAND(unmap, "unmap VA             unmap(VA), print the frame it mapped", cmd_unmap);

static void print_fault(const char *what, vaddr_t va)
{
    u64 err = last_probe_fault.error;
    kprintf("%s 0x%lx: page fault cr2=0x%lx err=0x%lx (%s, %s)\n", what, va, last_probe_fault.cr2,
            err, err & PFERR_PRESENT ? "protection" : "not present",
            err & PFERR_WRITE ? "write" : "read");
}

static int cmd_read(int argc, char **argv)
{
    u64 va, value;
    if (argc < 2)
        return !monitor_arg_u64(argc, argv, 1, &va);
    for (int i = 1; i < argc; i++) {
        if (!monitor_arg_u64(argc, argv, i, &va) || !need_canonical(va))
            return 1;
        demand_reset();
        if (probe_read(va, &value))
            kprintf("read 0x%lx: 0x%016lx\n", va, value);
        else
            print_fault("read", va);
    }
    return 0;
}
MONITOR_COMMAND(read, "read VA...           read the u64 at each VA (a page fault is printed)",
                cmd_read);

static int cmd_write(int argc, char **argv)
{
    u64 v[2];
    if (!args(argc, argv, 2, v) || !need_canonical(v[0]))
        return 1;
    demand_reset();
    if (probe_write(v[0], v[1]))
        kprintf("write 0x%lx: 0x%016lx\n", v[0], v[1]);
    else
        print_fault("write", v[0]);
    return 0;
}
MONITOR_COMMAND(write, "write VA VALUE       write the u64 VALUE at VA (a page fault is printed)",
                cmd_write);

static int cmd_fill(int argc, char **argv)
{
    u64 v[2];
    if (!args(argc, argv, 2, v))
        return 1;
    if (v[0] == FRAME_NONE || !taken_slot(v[0])) {
        kprintf("fill: 0x%lx is not a frame taken with `alloc`\n", v[0]);
        return 1;
    }
    u64 *words = kit_phys(v[0]);
    for (u64 i = 0; i < PAGE_SIZE / sizeof(u64); i++)
        words[i] = v[1];
    kprintf("fill 0x%lx with 0x%lx\n", v[0], v[1]);
    return 0;
}
MONITOR_COMMAND(fill, "fill PA VALUE        fill a frame taken with `alloc` with the u64 VALUE",
                cmd_fill);

/* The kit's own look-up of va's 4 KiB last-level entry, or NULL. */
static pte_t *leaf_entry(vaddr_t va)
{
    paddr_t table = read_cr3() & CR3_ADDR_MASK;
    for (int shift = 39; shift >= 12; shift -= 9) {
        pte_t *e = (pte_t *)kit_phys(table) + ((va >> shift) % PT_ENTRIES);
        if (shift == PAGE_SHIFT)
            return e;
        if (!(*e & PTE_P) || (*e & PTE_PS))
            return NULL;
        table = *e & PTE_ADDR_MASK;
    }
    return NULL;
}

static int cmd_clear(int argc, char **argv)
{
    u64 va;
    if (!args(argc, argv, 1, &va))
        return 1;
    pte_t *e = leaf_entry(va);
    if (!e || !(*e & PTE_P)) {
        kprintf("clear: 0x%lx has no 4 KiB mapping\n", va);
        return 1;
    }
    kprintf("clear 0x%lx: entry was 0x%lx, now 0 (TLB not flushed)\n", va, *e);
    *e = 0;
    return 0;
}
MONITOR_COMMAND(clear, "clear VA             zero VA's entry WITHOUT invlpg (a buggy unmap)",
                cmd_clear);

static int cmd_newdemo(int argc, char **argv)
{
    u64 v[2];
    if (!args(argc, argv, 2, v))
        return 1;
    int r = new_demo(v[0], (u8)v[1]);
    kprintf("new_demo(0x%lx, 0x%x) = %d %s\n", v[0], (u8)v[1], r, map_status_name(r));
    return 0;
}
MONITOR_COMMAND(newdemo,
                "newdemo VA ATTR      map VA to the VGA frame, write \"New!\" in colour ATTR",
                cmd_newdemo);
