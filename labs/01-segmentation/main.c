/*
 * Lab 1's kit side: load the student's GDT at boot; the monitor commands
 * (commands.c) and scenarios (scenarios.c) do the rest. The call gate is
 * installed when a command needs it (`callgate`, `gate`), so a kernel whose
 * callgate_install is still a stub reaches the prompt.
 */
#include <kit/kit.h>
#include <gdt.h>
#include "lab01.h"

const char lab_name[] = "01-segmentation";

void lab_main(void)
{
    gdt_init();
    kprintf("gdt: loaded, %d entries, TR 0x%x\n", GDT_ENTRIES, TSS_SEL);
    scenarios_run_params();
}
