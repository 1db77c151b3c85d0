/*
 * The physical frame allocator: every free frame holds, in its first eight
 * bytes, the physical address of the next free frame (a stack linked through
 * the frames themselves, reached with phys_to_virt()).
 */
#include "mapper.h"
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/pte.h>

static paddr_t free_head = FRAME_NONE; /* top of the stack of free frames */

/* Does [a, a + len) overlap [start, end)? */
static bool overlaps(paddr_t a, u64 len, paddr_t start, paddr_t end)
{
    return a < end && start < a + len;
}

/* May the frame at pa join the pool? (Its region is usable: see frame_init.) */
static bool frame_is_free(paddr_t pa)
{
    if (pa == 0)
        return false;
    if (overlaps(pa, PAGE_SIZE, boot_info.kernel_start, boot_info.kernel_end))
        return false;
    return !overlaps(pa, PAGE_SIZE, boot_info.mbi_start, boot_info.mbi_end);
}

void frame_init(u64 max_frames)
{
    u64 count = 0;
    for (int i = 0; i < boot_info.mmap_count; i++) {
        const struct mmap_region *r = &boot_info.mmap[i];
        if (r->type != MMAP_USABLE)
            continue;
        /* only whole frames: round the start up and the end down */
        paddr_t pa = ALIGN_UP(r->base, PAGE_SIZE), end = ALIGN_DOWN(r->base + r->len, PAGE_SIZE);
        for (; pa < end && count < max_frames; pa += PAGE_SIZE)
            if (frame_is_free(pa)) {
                frame_free(pa);
                count++;
            }
    }
}

paddr_t frame_alloc(void)
{
    paddr_t pa = free_head;
    if (pa != FRAME_NONE)
        free_head = *(paddr_t *)phys_to_virt(pa);
    return pa;
}

void frame_free(paddr_t frame)
{
    if (frame == FRAME_NONE || frame % PAGE_SIZE)
        panic("frame_free: bad frame 0x%lx", frame);
    *(paddr_t *)phys_to_virt(frame) = free_head;
    free_head = frame;
}
