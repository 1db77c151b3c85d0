/*
 * The CMSDK APB UART0 of the MPS2 board (QEMU's serial port 0): polled
 * output; input waits in wfi for the receive interrupt, so a kernel sitting
 * at the prompt leaves the host's CPU alone.
 */
#include <kit/kit.h>
#include "lab06.h"
#include "../kernel/core.h" /* what kprintf.c and monitor.c call */

#define UART0_BASE      0x40004000u
#define UART_DATA       REG32(UART0_BASE + 0x00)
#define UART_STATE      REG32(UART0_BASE + 0x04)
#define UART_CTRL       REG32(UART0_BASE + 0x08)
#define UART_INTCLEAR   REG32(UART0_BASE + 0x0c) /* write: clear; read: INTSTATUS */
#define UART_BAUDDIV    REG32(UART0_BASE + 0x10)
#define STATE_TX_FULL   (1u << 0)
#define STATE_RX_FULL   (1u << 1)
#define CTRL_TX_EN      (1u << 0)
#define CTRL_RX_EN      (1u << 1)
#define CTRL_RX_INT_EN  (1u << 3)
#define INT_RX          (1u << 1)
#define UART_MIN_BAUDDIV 16
#define UART0_RX_IRQ    0                  /* external interrupt 0 on the MPS2 */
#define NVIC_ISER0      REG32(0xE000E100u) /* interrupt set-enable */

void serial_init(void)
{
    UART_BAUDDIV = UART_MIN_BAUDDIV;
    UART_CTRL = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT_EN;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;
    (void)UART_DATA; /* a read tells QEMU the UART takes input now: else the first
                        byte typed waits for QEMU's next idle wakeup (up to 1 s) */
}

void serial_putc(char c)
{
    if (c == '\n')
        serial_putc('\r');
    while (UART_STATE & STATE_TX_FULL)
        ;
    UART_DATA = (u8)c;
}

/* Called by irq_vector (start.S). */
void uart_irq_ack(void) { UART_INTCLEAR = INT_RX; }

int serial_getc(void)
{
    /* With PRIMASK set, wfi still wakes on the pending interrupt, so a byte
     * arriving between the test and the wfi is not missed. */
    for (;;) {
        __asm__ volatile("cpsid i" ::: "memory");
        bool ready = UART_STATE & STATE_RX_FULL;
        if (!ready)
            __asm__ volatile("wfi");
        __asm__ volatile("cpsie i" ::: "memory"); /* irq_vector acknowledges */
        if (ready)
            return (int)(UART_DATA & 0xff);
    }
}

/* The MPS2 has no text console: serial only. */
void console_init(void) {}
void console_putc(char c) { (void)c; }
