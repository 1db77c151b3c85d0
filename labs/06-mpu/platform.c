/*
 * What labs/kernel/misc.c does on x86, for the Cortex-M3: stopping, exiting
 * through semihosting, panics and the kit's PRNG.
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

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    __asm__ volatile("cpsid i");
    kprintf("PANIC at %s:%d: ", file, line);
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    kit_stop();
}

static u64 rand_state;

u64 kit_rand(void)
{
    if (!rand_state)
        rand_state = kit_param_u64("seed", 0x2545f4914f6cdd1dull) | 1;
    rand_state ^= rand_state >> 12;
    rand_state ^= rand_state << 25;
    rand_state ^= rand_state >> 27;
    return rand_state * 0x2545f4914f6cdd1dull;
}
