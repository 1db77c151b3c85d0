/* Lab 2: the handlers for #PF, #DF and #BP. */
#include <kit/kit.h>
#include <kit/x86.h>
#include <idt.h>

/* LAB 2: CR2 holds the faulting address (read_cr2 in <kit/x86.h>); the error
 * code is tf->error. Print the report idt.h describes, then kit_stop(). */
void page_fault_handler(struct trapframe *tf)
{
    LAB_STUB(2, "page_fault_handler");
}

/* LAB 2: report the interrupted frame and your own stack pointer, then stop.
 * Which stack are you on? */
void double_fault_handler(struct trapframe *tf)
{
    LAB_STUB(2, "double_fault_handler");
}

/* LAB 2: report, then return: the stub in trapentry.S resumes at tf->rip. */
void breakpoint_handler(struct trapframe *tf)
{
    LAB_STUB(2, "breakpoint_handler");
}
