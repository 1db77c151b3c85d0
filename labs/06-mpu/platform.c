/*
 * What labs/kernel/misc.c does on x86, for the Cortex-M3: stopping, and
 * exiting through semihosting. (Panics and the PRNG are the core's portable
 * panic.c and params.c.)
 */
#include <kit/kit.h>
#include "lab06.h"

/* A semihosting call: QEMU (-semihosting-config enable=on) serves it. */
int semihost(u32 op, void *arg)
{
    register u32 r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

__noreturn void kit_stop(void)
{
    kprintf("kit: stopped\n");
    for (;;)
        __asm__ volatile("cpsid i\n\twfi");
}

/* QEMU exits with status (code << 1) | 1, as isa-debug-exit does on x86: a
 * kernel's exit is always odd, so it can never look like a clean shutdown. */
__noreturn void kit_exit(u8 code)
{
    u32 block[2] = {SEMI_ADP_APPLICATION_EXIT, ((u32)code << 1) | 1};
    semihost(SEMI_SYS_EXIT_EXTENDED, block);
    kit_stop(); /* only reached without semihosting */
}
