/*
 * Lab 2's kernel: Lab 1's GDT and TSS, then the student's IDT. Everything
 * else happens from the monitor (scenarios.c, usermode.c, cmd_idt.c), or
 * from the boot parameters [peek=ADDR] fault=KIND addr=ADDR (one scenario,
 * then stop), or gate_type=.. gate_dpl=.. ... (one idt_gate_encode, then stop).
 */
#include <kit/kit.h>
#include <gdt.h>
#include <idt.h>
#include "lab2.h"

const char lab_name[] = "02-page-fault";

void lab_main(void)
{
    gdt_init(); /* Lab 1: the TSS holds the IST 1 stack the #DF gate names */
    idt_init();
    trap_serial_gate(idt, IDT_ENTRIES); /* the kit's: the UART's interrupt (vector 36) */
    kprintf("lab2: IDT loaded; try 'fault write 0xdeadbeaf' or 'help'\n");
    if (kit_param("gate_type"))
        gate_param_run();
    /* a scenario chosen at boot (the grader's): an optional read, then one fault */
    if (kit_param("peek"))
        peek(kit_param_u64("peek", 0));
    const char *kind = kit_param("fault");
    if (kind)
        fault_run(kind, kit_param_u64("addr", 0));
}
