/*
 * ARMv7-M system registers the lab uses: the System Control Block (fault
 * status and enables), CONTROL, and the EXC_RETURN values. Names follow the
 * ARMv7-M Architecture Reference Manual (B3.2); each flag as bit and mask.
 *
 * All of them live in the System Control Space at 0xE000E000, which only
 * privileged code may touch. QEMU's monitor reads them with `xp`:
 *     xp /1wx 0xE000ED28      (CFSR)      xp /1wx 0xE000ED34      (MMFAR)
 */
#ifndef LAB06_V7M_H
#define LAB06_V7M_H

#include <kit/types.h>

#define REG32(addr) (*(volatile u32 *)(addr))

/* ---- System Control Block ---- */
#define SCB_ICSR  REG32(0xE000ED04u) /* interrupt control and state */
#define SCB_VTOR  REG32(0xE000ED08u) /* vector table offset */
#define SCB_AIRCR REG32(0xE000ED0Cu) /* reset control (write VECTKEY to bits 31:16) */
#define SCB_SHCSR REG32(0xE000ED24u) /* system handler control and state */
#define SCB_CFSR  REG32(0xE000ED28u) /* configurable fault status: MMFSR | BFSR << 8 | UFSR << 16 */
#define SCB_HFSR  REG32(0xE000ED2Cu) /* HardFault status */
#define SCB_MMFAR REG32(0xE000ED34u) /* MemManage fault address (valid only with MMARVALID) */
#define SCB_BFAR  REG32(0xE000ED38u) /* BusFault address (valid only with BFARVALID) */

/* SHCSR: the configurable faults are off after reset; a disabled fault
 * escalates to HardFault (HFSR.FORCED). */
#define SHCSR_BIT_MEMFAULTENA 16
#define SHCSR_BIT_BUSFAULTENA 17
#define SHCSR_BIT_USGFAULTENA 18
#define SHCSR_MEMFAULTENA (1u << SHCSR_BIT_MEMFAULTENA)
#define SHCSR_BUSFAULTENA (1u << SHCSR_BIT_BUSFAULTENA)
#define SHCSR_USGFAULTENA (1u << SHCSR_BIT_USGFAULTENA)

/* CFSR byte 0, the MemManage Fault Status Register (MMFSR). Write 1 to clear. */
#define CFSR_MMFSR_MASK   0x000000ffu
#define CFSR_BFSR_SHIFT   8
#define CFSR_BFSR_MASK    0x0000ff00u
#define CFSR_UFSR_SHIFT   16
#define CFSR_UFSR_MASK    0xffff0000u

#define MMFSR_BIT_IACCVIOL  0 /* instruction fetch from a region without execute permission */
#define MMFSR_BIT_DACCVIOL  1 /* load or store the region's permissions forbid */
#define MMFSR_BIT_MUNSTKERR 3 /* fault while unstacking on exception return */
#define MMFSR_BIT_MSTKERR   4 /* fault while stacking on exception entry */
#define MMFSR_BIT_MLSPERR   5 /* fault during lazy floating-point state save (v7E-M with FPU) */
#define MMFSR_BIT_MMARVALID 7 /* MMFAR holds the faulting address */
#define MMFSR_IACCVIOL  (1u << MMFSR_BIT_IACCVIOL)
#define MMFSR_DACCVIOL  (1u << MMFSR_BIT_DACCVIOL)
#define MMFSR_MUNSTKERR (1u << MMFSR_BIT_MUNSTKERR)
#define MMFSR_MSTKERR   (1u << MMFSR_BIT_MSTKERR)
#define MMFSR_MLSPERR   (1u << MMFSR_BIT_MLSPERR)
#define MMFSR_MMARVALID (1u << MMFSR_BIT_MMARVALID)

/* HFSR */
#define HFSR_BIT_VECTTBL 1  /* BusFault reading the vector table */
#define HFSR_BIT_FORCED  30 /* a configurable fault escalated (disabled, or priority too low) */
#define HFSR_VECTTBL (1u << HFSR_BIT_VECTTBL)
#define HFSR_FORCED  (1u << HFSR_BIT_FORCED)

/* ---- CONTROL (read with mrs, write with msr + isb) ---- */
#define CONTROL_BIT_NPRIV 0 /* 1: thread mode is unprivileged */
#define CONTROL_BIT_SPSEL 1 /* 1: thread mode uses the process stack (PSP) */
#define CONTROL_NPRIV (1u << CONTROL_BIT_NPRIV)
#define CONTROL_SPSEL (1u << CONTROL_BIT_SPSEL)

/* ---- EXC_RETURN: the value in LR while a handler runs ---- */
#define EXC_RETURN_HANDLER_MSP 0xfffffff1u /* return to handler mode (nested) */
#define EXC_RETURN_THREAD_MSP  0xfffffff9u /* return to thread mode on the main stack */
#define EXC_RETURN_THREAD_PSP  0xfffffffdu /* return to thread mode on the process stack */
#define EXC_RETURN_BIT_SPSEL   2           /* set: the frame was pushed on the PSP */

/* xPSR: the Thumb bit must be set in every stacked xPSR */
#define XPSR_T (1u << 24)

/* Exception numbers (vector table index) */
#define EXC_NMI        2
#define EXC_HARDFAULT  3
#define EXC_MEMMANAGE  4
#define EXC_BUSFAULT   5
#define EXC_USAGEFAULT 6
#define EXC_SVCALL     11

/* The eight words the CPU pushes on exception entry, lowest address first. */
struct exc_frame {
    u32 r0, r1, r2, r3, r12;
    u32 lr;   /* the interrupted code's link register */
    u32 pc;   /* the instruction that faulted (or the next one, for svc) */
    u32 xpsr;
};

static inline u32 read_control(void)
{
    u32 v;
    __asm__ volatile("mrs %0, control" : "=r"(v));
    return v;
}

static inline u32 read_psp(void)
{
    u32 v;
    __asm__ volatile("mrs %0, psp" : "=r"(v));
    return v;
}

static inline void dsb(void) { __asm__ volatile("dsb" ::: "memory"); }
static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }

#endif
