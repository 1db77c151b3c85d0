/* Demand paging: a lazy page gets its frame when it is first touched. */
#include "mapper.h"
#include <kit/kit.h>
#include <kit/pte.h>

int demand_map(vaddr_t addr)
{
    paddr_t frame = frame_alloc();
    if (frame == FRAME_NONE)
        return MAP_ERR_NOMEM;
    memset(phys_to_virt(frame), 0, PAGE_SIZE); /* never leak an old page's contents */
    int r = map_to(ALIGN_DOWN(addr, PAGE_SIZE), frame, LAZY_FLAGS);
    if (r != MAP_OK)
        frame_free(frame);
    return r;
}
