/* The "New!" demo (see mapper.h for the contract). */
#include "mapper.h"
#include <kit/kit.h>
#include <kit/pte.h>

int new_demo(vaddr_t page, u8 attr)
{
    /* LAB 5: map_to() the page onto VGA_TEXT_FRAME, writable and not executable
     * (PTE_W | PTE_NX). Then write the four cells through `page` itself (a
     * volatile u16 pointer), never through another mapping of the frame. */
    LAB_STUB(5, "new_demo");
}
