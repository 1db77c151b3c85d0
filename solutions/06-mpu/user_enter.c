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
    /* One asm block: after the msr to CONTROL the compiler's stack slots
     * (on the main stack) are out of reach, so every operand is a register. */
    __asm__ volatile("msr psp, %[sp]\n\t"
                     "msr control, %[ctl]\n\t"
                     "isb\n\t"
                     "mov r0, %[arg]\n\t"
                     "bx %[entry]\n\t"
                     :
                     : [sp] "r"(stack_top), [ctl] "r"(CONTROL_NPRIV | CONTROL_SPSEL),
                       [arg] "r"(arg), [entry] "r"(entry)
                     : "r0", "memory");
    __builtin_unreachable();
}
