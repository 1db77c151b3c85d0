/*
 * Lab 2's kernel: Lab 1's GDT and TSS, then the student's IDT. Everything
 * else happens from the monitor (scenarios.c, usermode.c, cmd_idt.c).
 */
#include <kit/kit.h>
#include <gdt.h>
#include <idt.h>

const char lab_name[] = "02-page-fault";

void lab_main(void)
{
    gdt_init(); /* Lab 1: the TSS holds the IST 1 stack the #DF gate names */
    idt_init();
    kprintf("lab2: IDT loaded; try 'fault write 0xdeadbeaf' or 'help'\n");
}
