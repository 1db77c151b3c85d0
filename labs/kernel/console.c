/* VGA text console, 80x25, light grey on black, scrolling half a screen at a time. */
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

/* Scroll half a screen at a time, not a line: every access to VGA memory is
 * device I/O under QEMU, ~100 times a RAM access, and moving 24 rows for every
 * new line made the console, not the serial port, what limited output (16 KiB
 * took 0.25 s; 0.08 s without a VGA device). */
#define SCROLL_ROWS 12

static void scroll(void)
{
    for (int i = 0; i < COLS * (ROWS - SCROLL_ROWS); i++)
        vga[i] = vga[i + COLS * SCROLL_ROWS];
    for (int i = COLS * (ROWS - SCROLL_ROWS); i < COLS * ROWS; i++)
        vga[i] = ATTR | ' ';
    row = ROWS - SCROLL_ROWS;
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
