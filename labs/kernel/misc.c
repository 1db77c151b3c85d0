/* Stopping, exiting, panics and the kit's PRNG. */
#include <kit/kit.h>
#include <kit/x86.h>

#define DEBUG_EXIT_PORT 0xf4

__noreturn void kit_stop(void)
{
    kprintf("kit: stopped\n");
    for (;;) {
        cli();
        hlt();
    }
}

__noreturn void kit_exit(u8 code)
{
    outb(DEBUG_EXIT_PORT, code);
    kit_stop(); /* only reached without an isa-debug-exit device */
}

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    cli();
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
