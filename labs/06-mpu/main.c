/*
 * Lab 6's kmain (reset_handler in start.S calls it): what labs/kernel/main.c
 * does on x86, for the Cortex-M3 board. The core's kprintf, monitor and
 * string helpers are linked as they are; this lab brings the board's UART,
 * parameters and fault entry.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <mpu.h>
#include "lab06.h"
#include "../kernel/core.h" /* serial_init, params_init, lab_main, lab_name */

const char lab_name[] = "06-mpu";

/* Fill the arena with words from the kit's PRNG (seeded by the grader), so a
 * read that returns the right word cannot be a guess. */
static void arena_fill(void)
{
    for (u32 *p = (u32 *)__arena_start; p < (u32 *)__arena_end; p++)
        *p = (u32)kit_rand();
}

void lab_main(void)
{
    arena_fill();
    kprintf("user code 0x%08x-0x%08x, user data 0x%08x-0x%08x, arena 0x%08x-0x%08x\n",
            X32(__user_text_start), X32(__user_text_end), X32(__user_data_start),
            X32(__user_data_end), X32(__arena_start), X32(__arena_end));
}

__noreturn void kmain(void)
{
    serial_init();
    params_init();
    u32 regions = (MPU_TYPE & MPU_TYPE_DREGION_MASK) >> MPU_TYPE_DREGION_SHIFT;
    kprintf("kit: lab %s, Cortex-M3 (mps2-an385), MPU with %u regions\n", lab_name, X32(regions));
    lab_main();
    monitor_run();
}
