/*
 * Exceptions. The core's IDT sends all 32 exception vectors to trap(), which
 * calls a handler a lab registered or else prints a report and stops. The
 * UART's receive interrupt (vector 36, the PIC's IRQ 4) has a stub of its own
 * and never reaches trap(): a breakpoint on trap stops on exceptions only.
 */
#ifndef KIT_TRAP_H
#define KIT_TRAP_H

#include <kit/types.h>

/* The frame every entry stub builds: general registers saved by the stub,
 * then vector and error code (0 when the CPU pushes none), then what the CPU
 * pushed itself (RIP, CS, RFLAGS, RSP, SS). */
struct trapframe {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error;
    u64 rip, cs, rflags, rsp, ss;
};

typedef void (*trap_handler)(struct trapframe *tf);

#define T_DE 0
#define T_DB 1
#define T_NMI 2
#define T_BP 3
#define T_OF 4
#define T_BR 5
#define T_UD 6
#define T_NM 7
#define T_DF 8
#define T_TS 10
#define T_NP 11
#define T_SS 12
#define T_GP 13
#define T_PF 14
#define T_MF 16
#define T_AC 17
#define T_MC 18
#define T_XM 19

/* Install the core IDT (called by the core at boot). */
void trap_init(void);
/* Route an exception vector (0..31) to fn instead of the default report. */
void trap_register(int vector, trap_handler fn);
/* "#PF", "#GP", ...; and the long name, "Page Fault". */
const char *trap_mnemonic(u64 vector);
const char *trap_name(u64 vector);
/* Print the standard report of an exception frame (no stop). */
void trap_report(const struct trapframe *tf);

/* A lab that loads an IDT of its own (gates idt[0..gates-1], 16 bytes each)
 * calls this once it is loaded: it adds the kit's gate for the UART's vector
 * (36), so the monitor can sleep until a key arrives. Without it the monitor
 * polls the UART. Kit code only: no student file may call it. */
void trap_serial_gate(void *idt, size_t gates);

/* The core IDT's entry stubs, one per exception vector (trapentry.S). */
extern const u64 trap_vectors[32];

#endif
