/* panic: report where and why, then stop (kit_stop). Portable C: the ARM lab
 * links this file too. Interrupts stay as they are while the message prints;
 * kit_stop turns them off for good. */
#include <kit/kit.h>

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    kprintf("PANIC at %s:%d: ", file, line);
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    kit_stop();
}
