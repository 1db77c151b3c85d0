/*
 * The physical frame allocator (see mapper.h for the contracts).
 *
 * Pick any design that hands out each free frame once: a stack of free frames
 * linked through the frames themselves (write the next address into the
 * first eight bytes of a free frame, through phys_to_virt()) needs no array.
 */
#include "mapper.h"
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/pte.h>

void frame_init(u64 max_frames)
{
    /* LAB 5: walk boot_info.mmap. Keep only MMAP_USABLE regions, and in them
     * only whole 4 KiB frames (ALIGN_UP the start, ALIGN_DOWN the end). Leave
     * out frame 0, the kernel image and the multiboot information (ranges in
     * boot_info, see kit/boot.h). Stop after max_frames frames. */
    LAB_STUB(5, "frame_init");
}

paddr_t frame_alloc(void)
{
    /* LAB 5: take one frame out of the pool, FRAME_NONE when it is empty. */
    LAB_STUB(5, "frame_alloc");
}

void frame_free(paddr_t frame)
{
    /* LAB 5: put the frame back; panic("frame_free: ...") on a misaligned one
     * and on FRAME_NONE (mapper.h). */
    LAB_STUB(5, "frame_free");
}
