/*
 * 16550 UART on COM1: 115200 8N1. Output is polled. Input waits with hlt for
 * the UART's receive interrupt (IRQ 4), so an idle kernel at its prompt costs
 * the host nothing: a polling loop would keep a whole host core busy per QEMU.
 *
 * The 8259 PIC is remapped past the exceptions, so IRQ 4 arrives as vector 36
 * (SERIAL_VECTOR), whose stub (serial_interrupt in trapentry.S) only
 * acknowledges it: it never reaches trap(), so it is never taken for an
 * exception. The core's IDT has that gate; a lab that loads its own IDT adds
 * it with trap_serial_gate(). When the loaded IDT is not one of those (a
 * scenario's, a student's reloaded one), the monitor polls instead of
 * sleeping. All other IRQs stay masked; interrupts are enabled only inside
 * the hlt wait.
 */
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
#define IER_RX_AVAILABLE 0x01
#define MCR_DTR_RTS 0x03
#define MCR_OUT2 0x08 /* gates the UART's interrupt line on a PC */

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1
#define PIC_EOI   0x20
/* The local APIC passes the PIC's output on through LINT0 when LINT0 is in
 * ExtINT mode. SeaBIOS sets that up, a minimal firmware (qboot) does not, so
 * the kit does it; boot.S identity-maps the APIC page until paging_init. */
#define LAPIC_PHYS      0xfee00000ul
#define LAPIC_SVR       0xf0  /* spurious-interrupt vector register */
#define LAPIC_LVT_LINT0 0x350
#define SVR_ENABLE      0x100
#define SVR_VECTOR      0xff
#define LVT_EXTINT      0x700

static void pic_init(void)
{
    outb(PIC1_CMD, 0x11);          /* ICW1: init, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, PIC_VECTOR_BASE);     /* ICW2: IRQ 0-7 -> vectors 32-39 */
    outb(PIC2_DATA, PIC_VECTOR_BASE + 8); /*       IRQ 8-15 -> 40-47 (masked) */
    outb(PIC1_DATA, 0x04);         /* ICW3: slave on IRQ 2 */
    outb(PIC2_DATA, 0x02);
    outb(PIC1_DATA, 0x01);         /* ICW4: 8086 mode */
    outb(PIC2_DATA, 0x01);
    outb(PIC1_DATA, (u8)~(1u << SERIAL_IRQ)); /* only the serial port */
    outb(PIC2_DATA, 0xff);
}

/* Let the PIC's interrupt through the local APIC (ExtINT on LINT0). */
static void lapic_pass_pic(void)
{
    volatile u32 *lapic = (volatile u32 *)LAPIC_PHYS;
    lapic[LAPIC_SVR / 4] = SVR_ENABLE | SVR_VECTOR;
    lapic[LAPIC_LVT_LINT0 / 4] = LVT_EXTINT;
}

/* The IDT whose gate SERIAL_VECTOR is the kit's (0: none yet). */
static u64 gate_idt;

void serial_gate_at(u64 idt_base) { gate_idt = idt_base; }

void serial_irq(void)
{
    outb(PIC1_CMD, PIC_EOI);
}

/* Is the loaded IDT one that delivers the UART's interrupt? */
static bool irq_deliverable(void)
{
    struct dtr d;
    sidt(&d);
    return gate_idt && d.base == gate_idt && d.limit >= (SERIAL_VECTOR + 1) * 16 - 1;
}

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);          /* no interrupts: we poll */
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DATA, 1);            /* divisor 1: 115200 baud */
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, 0x03);          /* 8 bits, no parity, 1 stop */
    outb(COM1 + UART_FCR, 0xc7);          /* FIFOs on, cleared */
    outb(COM1 + UART_MCR, MCR_DTR_RTS | MCR_OUT2);
    pic_init();
    lapic_pass_pic();
    outb(COM1 + UART_IER, IER_RX_AVAILABLE);
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
    /* sti's one-instruction shadow means no interrupt slips in before hlt. */
    bool sleep = irq_deliverable();
    while (!(inb(COM1 + UART_LSR) & LSR_DATA_READY)) {
        if (sleep)
            __asm__ volatile("sti; hlt; cli");
        else
            __asm__ volatile("pause");
    }
    return inb(COM1 + UART_DATA);
}
