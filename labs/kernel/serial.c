/* 16550 UART on COM1: 115200 8N1, polled. */
#include <kit/kit.h>
#include <kit/x86.h>
#include "core.h"

#define COM1 0x3f8
#define UART_DATA 0
#define UART_IER  1
#define UART_FCR  2
#define UART_LCR  3
#define UART_MCR  4
#define UART_LSR  5
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY  0x20
#define LCR_DLAB 0x80

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);          /* no interrupts: we poll */
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DATA, 1);            /* divisor 1: 115200 baud */
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, 0x03);          /* 8 bits, no parity, 1 stop */
    outb(COM1 + UART_FCR, 0xc7);          /* FIFOs on, cleared */
    outb(COM1 + UART_MCR, 0x03);          /* DTR, RTS */
}

void serial_putc(char c)
{
    if (c == '\n')
        serial_putc('\r');
    while (!(inb(COM1 + UART_LSR) & LSR_THR_EMPTY))
        ;
    outb(COM1 + UART_DATA, (u8)c);
}

int serial_getc(void)
{
    while (!(inb(COM1 + UART_LSR) & LSR_DATA_READY))
        __asm__ volatile("pause");
    return inb(COM1 + UART_DATA);
}
