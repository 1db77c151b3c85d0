/*
 * Fault reports: mm_report() for the student's MemManage handler, and the
 * kit's report for every other fault (HardFault, BusFault, UsageFault...),
 * in the "EXCEPTION n name" form the x86 labs print.
 */
#include <kit/kit.h>
#include <memmanage.h>
#include <mpu.h>
#include "lab06.h"

struct flag_name {
    u32 bit;
    const char *name;
};

static const struct flag_name mmfsr_names[] = {
    {MMFSR_IACCVIOL, "IACCVIOL"}, {MMFSR_DACCVIOL, "DACCVIOL"},   {MMFSR_MUNSTKERR, "MUNSTKERR"},
    {MMFSR_MSTKERR, "MSTKERR"},   {MMFSR_MLSPERR, "MLSPERR"},     {MMFSR_MMARVALID, "MMARVALID"},
};

static void print_flags(const struct flag_name *names, size_t n, u32 value)
{
    for (size_t i = 0; i < n; i++)
        if (value & names[i].bit)
            kprintf(" %s", names[i].name);
}

/* The kind of violation, from the most specific flag. */
static const char *mm_kind(u32 mmfsr)
{
    if (mmfsr & MMFSR_MSTKERR)
        return "stacking error";
    if (mmfsr & MMFSR_MUNSTKERR)
        return "unstacking error";
    if (mmfsr & MMFSR_IACCVIOL)
        return "instruction access violation";
    if (mmfsr & MMFSR_DACCVIOL)
        return "data access violation";
    return "no MemManage flag set";
}

/* Name of the kernel symbol holding pc: not kept (no symbol table on board),
 * so print where the address lies in the layout instead. */
static const char *where(u32 pc)
{
    if (pc >= (u32)__user_text_start && pc < (u32)__user_text_end)
        return "user code";
    if (pc >= (u32)__arena_start && pc < (u32)__arena_end)
        return "arena";
    if (pc < (u32)__user_text_start)
        return "kernel code";
    return "data memory";
}

void mm_report(const struct mm_fault *f)
{
    kprintf("MEMMANAGE: %s (MMFSR 0x%02x", mm_kind(f->mmfsr), X32(f->mmfsr));
    print_flags(mmfsr_names, ARRAY_SIZE(mmfsr_names), f->mmfsr);
    kprintf(")\n");
    if (f->addr_valid)
        kprintf("  address 0x%08x\n", X32(f->addr));
    else if (f->addr)  /* the contract: addr is 0 when MMARVALID is clear */
        kprintf("  address unknown (MMARVALID clear), yet addr = 0x%08x\n", X32(f->addr));
    else
        kprintf("  address unknown (MMARVALID clear)\n");
    if (f->pc_valid)
        kprintf("  pc 0x%08x (%s), %s thread\n", X32(f->pc), where(f->pc),
                f->user ? "unprivileged" : "privileged");
    else
        kprintf("  pc unknown (no frame), %s thread\n", f->user ? "unprivileged" : "privileged");
}

static const char *exception_name(u32 n)
{
    switch (n) {
    case EXC_NMI: return "NMI";
    case EXC_HARDFAULT: return "HardFault";
    case EXC_MEMMANAGE: return "MemManage";
    case EXC_BUSFAULT: return "BusFault";
    case EXC_USAGEFAULT: return "UsageFault";
    case EXC_SVCALL: return "SVCall";
    default: return n >= 16 ? "interrupt" : "reserved";
    }
}

static u32 ipsr(void)
{
    u32 v;
    __asm__ volatile("mrs %0, ipsr" : "=r"(v));
    return v & 0x1ff;
}

/* Why a MemManage fault became a HardFault, most likely. */
static const char *escalation_hint(void)
{
    u32 ctrl = MPU_CTRL;
    if ((ctrl & MPU_CTRL_ENABLE) && !(ctrl & MPU_CTRL_PRIVDEFENA))
        return "the MPU is on without PRIVDEFENA: the kernel's own code and stack are in no "
               "region, so even the MemManage handler cannot run (mpu_enable)";
    if (!(SCB_SHCSR & SHCSR_MEMFAULTENA))
        return "a MemManage fault escalated: MemManage is not enabled (SHCSR_MEMFAULTENA, in "
               "mpu_enable)";
    return "the MemManage handler itself faulted (did it read a frame a stacking fault never "
           "wrote?)";
}

/* Every fault but MemManage (start.S fault_vector). The frame is read only
 * when it was not a stacking fault. */
__noreturn void fault_report(const struct exc_frame *frame, u32 exc_return)
{
    u32 n = ipsr(), cfsr = SCB_CFSR, hfsr = SCB_HFSR;
    kprintf("EXCEPTION %u %s (CFSR 0x%08x HFSR 0x%08x)\n", X32(n), exception_name(n), X32(cfsr),
            X32(hfsr));
    if (n == EXC_HARDFAULT && (hfsr & HFSR_FORCED) && (cfsr & CFSR_MMFSR_MASK))
        kprintf("  %s\n", escalation_hint());
    bool stacking = cfsr & (MMFSR_MSTKERR | (1u << (CFSR_BFSR_SHIFT + 4)));
    if (!stacking)
        kprintf("  pc 0x%08x lr 0x%08x xpsr 0x%08x, from %s\n", X32(frame->pc), X32(frame->lr),
                X32(frame->xpsr),
                exc_return == EXC_RETURN_THREAD_PSP ? "thread mode (process stack)"
                : exc_return == EXC_RETURN_THREAD_MSP ? "thread mode (main stack)"
                                                      : "handler mode");
    kit_stop();
}

__noreturn void memmanage_returned(void)
{
    panic("memmanage_handler returned: the faulting access would only run again");
}

__noreturn void svc_unexpected(u32 exc_return)
{
    panic("svc outside a user job (EXC_RETURN 0x%08x): a job must run on the process stack "
          "(CONTROL_SPSEL in user_enter)",
          X32(exc_return));
}

__noreturn void svc_job_privileged(void)
{
    panic("user_enter left thread mode privileged (CONTROL.nPRIV clear): the job ran "
          "with the kernel's rights");
}

__noreturn void user_enter_returned(void)
{
    panic("user_enter returned: it must switch to the job and never come back");
}
