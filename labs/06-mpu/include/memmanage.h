/*
 * Lab 6: the MemManage fault, taken when the MPU refuses an access.
 *
 * On entry the CPU pushed a struct exc_frame (v7m.h) on the stack the
 * interrupted code used: the process stack (PSP) when thread mode ran on it,
 * else the main stack. The kit's vector stub finds it from EXC_RETURN and
 * calls memmanage_handler(frame). The handler reports through mm_report()
 * and stops the machine with kit_stop(): the grader then reads CFSR and
 * MMFAR from QEMU, so leave them as the fault set them (do not clear them).
 */
#ifndef LAB06_MEMMANAGE_H
#define LAB06_MEMMANAGE_H

#include <kit/types.h>
#include <v7m.h>

/* What the handler learned about one MemManage fault. */
struct mm_fault {
    u32 mmfsr;       /* the MMFSR byte of CFSR, as read */
    bool addr_valid; /* MMFSR.MMARVALID: addr is the faulting data address */
    u32 addr;        /* MMFAR when addr_valid; else 0 (MMFAR is then stale) */
    bool pc_valid;   /* the stacked frame is readable: false after a stacking fault */
    u32 pc;          /* stacked PC (the faulting instruction) when pc_valid; else 0 */
    bool user;       /* the faulting code ran unprivileged (CONTROL.nPRIV) */
};

/* ---- what you write (starter/06-mpu/memmanage.c) ---- */

/*
 * Called by the kit's MemManage vector with the frame the CPU stacked (do
 * not read it after a stacking fault: it may not have been written, or may
 * lie in memory even the handler may not read). Fill a struct mm_fault,
 * pass it to mm_report(), then kit_stop(). Never returns.
 */
__noreturn void memmanage_handler(const struct exc_frame *frame);

/* ---- given (labs/06-mpu/faults.c) ---- */

/* Print the standard report the grader parses:
 *   MEMMANAGE: data access violation (MMFSR 0x82 DACCVIOL MMARVALID)
 *     address 0x20104abc
 *     pc 0x00002044 (user_read_word+0x4), unprivileged thread          */
void mm_report(const struct mm_fault *f);

#endif
