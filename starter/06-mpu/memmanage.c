/*
 * Lab 6: the MemManage fault handler. The fault status registers are in
 * labs/06-mpu/include/v7m.h, the report's fields in memmanage.h.
 */
#include <kit/kit.h>
#include <memmanage.h>

__noreturn void memmanage_handler(const struct exc_frame *frame)
{
    /* LAB 6: fill a struct mm_fault (memmanage.h):
     *  - mmfsr: the low byte of SCB_CFSR (CFSR_MMFSR_MASK);
     *  - addr: SCB_MMFAR, but only when MMFSR_MMARVALID says it is valid:
     *    after an instruction fault it still holds an old address;
     *  - pc: frame->pc, unless MMFSR_MSTKERR says the frame was never
     *    written (a stacking fault);
     *  - user: CONTROL_NPRIV of read_control() (v7m.h): handler mode is
     *    always privileged, but CONTROL still says what thread mode was.
     * Then mm_report(&f) and kit_stop(). Do not clear CFSR. */
    LAB_STUB(6, "memmanage_handler");
}
