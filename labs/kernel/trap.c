/* The core IDT and the default exception report. */
#include <kit/kit.h>
#include <kit/trap.h>
#include <kit/x86.h>
#include "core.h"

#define EXCEPTIONS 32

/* The core's own IDT: a present 64-bit interrupt gate (type 0xe), DPL 0, no
 * IST, on selector 0x08 per exception, vectors 32-35 not present, and the
 * UART's gate at SERIAL_VECTOR (36). Static, like its writer: gates are what
 * Lab 02 encodes, so no student file may link to this code. */
struct core_gate {
    u16 offset_low, selector, flags, offset_mid;
    u32 offset_high, reserved;
};
#define CORE_GATE_SELECTOR 0x08   /* the boot GDT's kernel code */
#define CORE_GATE_FLAGS    0x8e00 /* P, DPL 0, interrupt gate */

#define CORE_GATES (SERIAL_VECTOR + 1)

static struct core_gate core_idt[CORE_GATES] __aligned(16);
static trap_handler handlers[EXCEPTIONS];

static const char *const names[EXCEPTIONS][2] = {
    {"#DE", "Divide Error"},          {"#DB", "Debug"},
    {"NMI", "Non-maskable Interrupt"}, {"#BP", "Breakpoint"},
    {"#OF", "Overflow"},              {"#BR", "BOUND Range Exceeded"},
    {"#UD", "Invalid Opcode"},        {"#NM", "Device Not Available"},
    {"#DF", "Double Fault"},          {"#CSO", "Coprocessor Segment Overrun"},
    {"#TS", "Invalid TSS"},           {"#NP", "Segment Not Present"},
    {"#SS", "Stack-Segment Fault"},   {"#GP", "General Protection"},
    {"#PF", "Page Fault"},            {"#15", "Reserved"},
    {"#MF", "x87 Floating-Point Error"}, {"#AC", "Alignment Check"},
    {"#MC", "Machine Check"},         {"#XM", "SIMD Floating-Point"},
    {"#VE", "Virtualization"},        {"#CP", "Control Protection"},
    {"#22", "Reserved"},              {"#23", "Reserved"},
    {"#24", "Reserved"},              {"#25", "Reserved"},
    {"#26", "Reserved"},              {"#27", "Reserved"},
    {"#HV", "Hypervisor Injection"},  {"#VC", "VMM Communication"},
    {"#SX", "Security"},              {"#31", "Reserved"},
};

const char *trap_mnemonic(u64 v) { return v < EXCEPTIONS ? names[v][0] : "IRQ"; }
const char *trap_name(u64 v) { return v < EXCEPTIONS ? names[v][1] : "Interrupt"; }

static struct core_gate core_gate(u64 handler)
{
    return (struct core_gate){
        .offset_low = (u16)handler,
        .selector = CORE_GATE_SELECTOR,
        .flags = CORE_GATE_FLAGS,
        .offset_mid = (u16)(handler >> 16),
        .offset_high = (u32)(handler >> 32),
    };
}

void trap_init(void)
{
    for (int v = 0; v < EXCEPTIONS; v++)
        core_idt[v] = core_gate(trap_vectors[v]);
    core_idt[SERIAL_VECTOR] = core_gate((u64)serial_interrupt);
    struct dtr d = {.limit = sizeof core_idt - 1, .base = (u64)core_idt};
    lidt(&d);
    serial_gate_at((u64)core_idt);
}

void trap_serial_gate(void *idt, size_t gates)
{
    if (gates <= SERIAL_VECTOR)
        return; /* no room: the monitor polls */
    ((struct core_gate *)idt)[SERIAL_VECTOR] = core_gate((u64)serial_interrupt);
    serial_gate_at((u64)idt);
}

void trap_register(int vector, trap_handler fn)
{
    assert(vector >= 0 && vector < EXCEPTIONS);
    handlers[vector] = fn;
}

void trap_report(const struct trapframe *tf)
{
    kprintf("EXCEPTION %lu %s %s err=0x%lx\n", tf->vector, trap_mnemonic(tf->vector),
            trap_name(tf->vector), tf->error);
    kprintf("  RIP=0x%016lx CS=0x%04lx RFLAGS=0x%08lx\n", tf->rip, tf->cs, tf->rflags);
    kprintf("  RSP=0x%016lx SS=0x%04lx CR2=0x%016lx\n", tf->rsp, tf->ss, read_cr2());
}

void trap(struct trapframe *tf)
{
    if (tf->vector < EXCEPTIONS && handlers[tf->vector]) {
        handlers[tf->vector](tf);
        return;
    }
    trap_report(tf);
    kit_stop();
}
