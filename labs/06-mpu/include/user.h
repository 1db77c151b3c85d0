/*
 * Lab 6: unprivileged thread mode.
 *
 * A Cortex-M runs in one of two modes: handler mode (exceptions, always
 * privileged) and thread mode (everything else). CONTROL.nPRIV makes thread
 * mode unprivileged; CONTROL.SPSEL makes it use the process stack (PSP)
 * instead of the main stack (MSP). Unprivileged code cannot set nPRIV back:
 * the only way up is an exception. The kit's user code therefore ends every
 * job with `svc #0`, and the kit's SVC handler (svc.S) clears nPRIV and
 * resumes the kernel where user_call() started the job.
 *
 *   kernel (privileged, MSP)                 user (unprivileged, PSP)
 *   user_call(job) --> user_enter() -------> user_job_entry(job) ... svc #0
 *        ^                                                           |
 *        '------------- svc_handler: nPRIV = 0, back on the MSP -----'
 */
#ifndef LAB06_USER_H
#define LAB06_USER_H

#include <kit/types.h>

typedef void (*user_entry_fn)(u32 arg);

/* Code in the user code region (kit region 0, the only code unprivileged
 * thread mode may fetch). Data for jobs goes in USER_DATA (region 1). */
#define USER_TEXT __attribute__((section(".user_text"), noinline))
#define USER_DATA __attribute__((section(".user_data")))

/* ---- what you write (starter/06-mpu/user_enter.c) ---- */

/*
 * Switch thread mode to the process stack, whose top (first address past it,
 * 8-byte aligned) is stack_top, and to unprivileged; then branch to
 * entry(arg). Never returns: entry ends with an svc (see above).
 * Everything the function needs after the switch must already be in
 * registers: the kernel's stack is out of reach once nPRIV is set. And the
 * instructions after the switch are fetched unprivileged, so the function
 * itself must be USER_TEXT (it is, in the starter): kernel code is not
 * executable from unprivileged thread mode.
 */
USER_TEXT __noreturn void user_enter(user_entry_fn entry, u32 arg, u32 stack_top);

/* ---- given (labs/06-mpu/user.c, svc.S) ---- */

/* Run one job (struct user_job, user.c) unprivileged; returns once its svc
 * brings the CPU back to privileged thread mode. */
u32 user_call(user_entry_fn entry, u32 arg, u32 stack_top);

#endif
