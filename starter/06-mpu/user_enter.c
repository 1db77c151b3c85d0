/*
 * Lab 6: dropping to unprivileged thread mode. The CONTROL bits are in
 * labs/06-mpu/include/v7m.h; the round trip is drawn in user.h.
 */
#include <kit/kit.h>
#include <user.h>
#include <v7m.h>

/* USER_TEXT: the instructions after the msr to CONTROL are fetched unprivileged. */
USER_TEXT __noreturn void user_enter(user_entry_fn entry, u32 arg, u32 stack_top)
{
    /* LAB 6: in ONE __asm__ volatile block, with every operand in a
     * register: `msr psp` with stack_top, `msr control` with CONTROL_SPSEL
     * and CONTROL_NPRIV, `isb` (so the next instruction runs unprivileged),
     * r0 = arg, and `bx` to entry. Add r0 to the clobbers. Afterwards tell
     * the compiler the function cannot return (__builtin_unreachable).
     * The `user read ADDR` command runs through here. */
    LAB_STUB(6, "user_enter");
}
