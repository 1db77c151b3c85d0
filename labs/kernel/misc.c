/* Stopping and exiting QEMU, on x86. */
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
