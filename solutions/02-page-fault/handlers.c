/* Lab 2: the handlers for #PF, #DF and #BP. */
#include <kit/kit.h>
#include <kit/x86.h>
#include <idt.h>

#define FLAGS_TEXT 128

/* Print the part of the frame the CPU pushed: where the interrupted code was. */
static void print_frame(const struct trapframe *tf)
{
    kprintf("  rip=0x%016lx cs=0x%lx rflags=0x%lx rsp=0x%016lx ss=0x%lx\n", tf->rip, tf->cs,
            tf->rflags, tf->rsp, tf->ss);
}

void page_fault_handler(struct trapframe *tf)
{
    u64 addr = read_cr2();
    char flags[FLAGS_TEXT];
    pferr_decode(tf->error, flags, sizeof flags);
    kprintf("PAGE FAULT addr=0x%016lx err=0x%lx [%s]\n", addr, tf->error, flags);
    print_frame(tf);
    kit_stop();
}

void double_fault_handler(struct trapframe *tf)
{
    u64 rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    kprintf("DOUBLE FAULT err=0x%lx rip=0x%016lx rsp=0x%016lx stack=0x%016lx\n", tf->error,
            tf->rip, tf->rsp, rsp);
    kit_stop();
}

void breakpoint_handler(struct trapframe *tf)
{
    kprintf("BREAKPOINT rip=0x%016lx cs=0x%lx\n", tf->rip, tf->cs);
}
