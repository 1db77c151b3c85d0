/*
 * The round trip to unprivileged thread mode (drawn in include/user.h).
 *
 * user_call(entry, arg, stack_top) saves the kernel's callee-saved registers
 * and stack pointer, then calls the student's user_enter(), which never
 * returns. The job ends with `svc #0` (user.c); svc_handler then makes
 * thread mode privileged again and returns from the exception into
 * user_call_resume, on the main stack, as if user_enter had returned the
 * job's r0.
 */
    .syntax unified
    .cpu cortex-m3
    .thumb

#define EXC_RETURN_SPSEL      4
#define EXC_RETURN_THREAD_MSP 0xfffffff9
#define CONTROL_NPRIV         1
#define XPSR_T                0x01000000
#define FRAME_SIZE            32
#define FRAME_R0              0
#define FRAME_PC              24
#define FRAME_XPSR            28

    .bss
    .align 2
    .global user_call_sp
user_call_sp:                   /* the kernel's sp inside user_call; 0 when no job runs */
    .word 0

    .text
    /* u32 user_call(user_entry_fn entry, u32 arg, u32 stack_top) */
    .global user_call
    .type user_call, %function
    .thumb_func
user_call:
    push {r4-r12, lr}           /* ten words: sp stays 8-byte aligned */
    ldr r3, =user_call_sp
    mov r12, sp
    str r12, [r3]
    bl user_enter               /* student: to unprivileged thread mode */
    b user_enter_returned       /* it must not come back */

    .type user_call_resume, %function
    .thumb_func
user_call_resume:               /* entered by svc_handler's exception return */
    ldr r3, =user_call_sp
    movs r1, #0
    str r1, [r3]
    pop {r4-r12, pc}

    .global svc_handler
    .type svc_handler, %function
    .thumb_func
svc_handler:
    tst lr, #EXC_RETURN_SPSEL
    beq 1f                      /* frame on the main stack: not a user job */
    ldr r3, =user_call_sp
    ldr r1, [r3]
    cbz r1, 1f                  /* no job running */
    mrs r0, control
    tst r0, #CONTROL_NPRIV
    beq 2f                      /* the job ran privileged */
    bic r0, r0, #CONTROL_NPRIV  /* thread mode is privileged again */
    msr control, r0
    isb
    mrs r0, psp
    ldr r0, [r0, #FRAME_R0]     /* the job's result */
    subs r1, #FRAME_SIZE        /* a frame just below user_call's sp */
    str r0, [r1, #FRAME_R0]
    ldr r2, =user_call_resume
    bic r2, r2, #1
    str r2, [r1, #FRAME_PC]
    mov r2, #XPSR_T
    str r2, [r1, #FRAME_XPSR]
    msr msp, r1
    ldr lr, =EXC_RETURN_THREAD_MSP
    bx lr
1:  mov r0, lr
    b svc_unexpected
2:  b svc_job_privileged
