/* The "New!" demo: write to the screen through a page made for it. */
#include "mapper.h"
#include <kit/kit.h>
#include <kit/pte.h>

#define VGA_ATTR_SHIFT 8 /* a cell: character in the low byte, attribute in the high byte */

int new_demo(vaddr_t page, u8 attr)
{
    static const char text[] = "New!";
    int r = map_to(page, VGA_TEXT_FRAME, PTE_W | PTE_NX);
    if (r != MAP_OK)
        return r;
    volatile u16 *cells = (volatile u16 *)page;
    for (size_t i = 0; i < sizeof text - 1; i++)
        cells[DEMO_CELL + i] = (u16)((u16)attr << VGA_ATTR_SHIFT | (u8)text[i]);
    return MAP_OK;
}
