/*
 * Lab 1's kit side: load the student's GDT and gate at boot; the monitor
 * commands (commands.c) and scenarios (scenarios.c) do the rest.
 */
#include <kit/kit.h>
#include <gdt.h>
#include "lab01.h"

const char lab_name[] = "01-segmentation";

void lab_main(void)
{
    gdt_init();
    callgate_install((u64)gate_entry);
    kprintf("gdt: loaded, %d entries, TR 0x%x\n", GDT_ENTRIES, TSS_SEL);
    scenarios_run_params();
}
