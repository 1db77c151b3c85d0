/* VGA text console, 80x25, light grey on black, scrolling. */
#include <kit/kit.h>
#include <kit/boot.h>
#include "core.h"

#define VGA_PHYS 0xb8000
#define COLS 80
#define ROWS 25
#define ATTR 0x0700

static volatile u16 *vga;
static int row, col;

void console_init(void)
{
    vga = (volatile u16 *)VGA_PHYS; /* identity-mapped by the boot tables and by paging_init */
    for (int i = 0; i < COLS * ROWS; i++)
        vga[i] = ATTR | ' ';
    row = col = 0;
}

static void scroll(void)
{
    for (int i = 0; i < COLS * (ROWS - 1); i++)
        vga[i] = vga[i + COLS];
    for (int i = COLS * (ROWS - 1); i < COLS * ROWS; i++)
        vga[i] = ATTR | ' ';
    row = ROWS - 1;
}

void console_putc(char c)
{
    if (!vga)
        return;
    if (c == '\n') {
        col = 0;
        row++;
    } else if (c == '\b') {
        if (col > 0)
            vga[row * COLS + --col] = ATTR | ' ';
    } else if (c != '\r') {
        vga[row * COLS + col] = ATTR | (u8)c;
        if (++col == COLS) {
            col = 0;
            row++;
        }
    }
    if (row == ROWS)
        scroll();
}
