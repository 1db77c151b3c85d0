/*
 * Lab 6: the MemManage fault handler. The fault status registers are in
 * labs/06-mpu/include/v7m.h, the report's fields in memmanage.h.
 */
#include <kit/kit.h>
#include <memmanage.h>

__noreturn void memmanage_handler(const struct exc_frame *frame)
{
    struct mm_fault f = {0};
    f.mmfsr = SCB_CFSR & CFSR_MMFSR_MASK;
    f.addr_valid = (f.mmfsr & MMFSR_MMARVALID) != 0;
    if (f.addr_valid)
        f.addr = SCB_MMFAR;
    f.pc_valid = !(f.mmfsr & MMFSR_MSTKERR);
    if (f.pc_valid)
        f.pc = frame->pc;
    f.user = (read_control() & CONTROL_NPRIV) != 0;
    mm_report(&f);
    kit_stop();
}
