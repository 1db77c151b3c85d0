/*
 * Lab 1's ring-3 code and the call gate's target.
 *
 * scenarios.c writes the inputs into user_sel / user_port (user data, so
 * ring 3 can read them) and enters one of the user_* entry points with
 * enter_user(). Every path ends in a fault the kit reports, so QEMU's
 * exception record shows where ring 3 got to:
 *   - a faulting instruction (#GP, #NP, #SS) at the user_* entry point;
 *   - ud2 at user_done (or user_gate_back) when nothing faulted.
 */
#include <kit/segments.h>

    .section .usertext, "ax"

/* Load user_sel into one segment register, then stop at user_done. */
.macro USER_LOAD reg
    .globl user_load_\reg
user_load_\reg:
    movzwl user_sel(%rip), %eax
    mov %eax, %\reg
    jmp user_done
.endm
    USER_LOAD ds
    USER_LOAD es
    USER_LOAD fs
    USER_LOAD gs
    USER_LOAD ss

/* One privileged instruction each: all must fault with #GP(0) at CPL 3. */
    .globl user_hlt, user_cli, user_sti, user_rdcr3, user_wrcr3, user_rdmsr
    .globl user_lgdt, user_invlpg, user_in, user_out
user_hlt:
    hlt
    jmp user_done
user_cli:
    cli
    jmp user_done
user_sti:
    sti
    jmp user_done
user_rdcr3:
    mov %cr3, %rax
    jmp user_done
user_wrcr3:
    xor %eax, %eax
    mov %rax, %cr3
    jmp user_done
user_rdmsr:
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    jmp user_done
user_lgdt:
    lgdt user_sel(%rip)
    jmp user_done
user_invlpg:
    invlpg user_sel(%rip)
    jmp user_done
user_in:
    movzwl user_port(%rip), %edx
    inb %dx, %al
    jmp user_done
user_out:
    movzwl user_port(%rip), %edx
    xor %eax, %eax
    outb %al, %dx
    jmp user_done

/* Far call through the gate; the gate's target returns here with lretq. */
    .globl user_gate, user_gate_back
user_gate:
    lcall *user_gate_ptr(%rip)
user_gate_back:
    ud2

/* Ring 3 got here without a fault: say so with #UD (scenarios.c reports it). */
    .globl user_done
user_done:
    ud2

    .section .userdata, "aw"
    .balign 16
    .globl user_sel, user_port
user_sel:  .quad 0, 0               /* the selector to load (and a 16-byte operand) */
user_port: .quad 0                  /* the port for in/out */
/* m16:32 far pointer: the offset is ignored for a gate, the selector is used. */
user_gate_ptr:
    .long 0
    .short CALLGATE_SEL | SEL_RPL3

/*
 * The call gate's target, at CPL 0. The CPU switched to the TSS's RSP0 stack
 * and pushed the caller's SS, RSP, CS and RIP there (SS is now null). int3
 * makes QEMU record where we are; scenarios.c's #BP handler returns, and
 * lretq pops RIP, CS, RSP and SS: back to ring 3 at user_gate_back.
 */
    .text
    .globl gate_entry
gate_entry:
    int3
    lretq

    .section .note.GNU-stack, "", @progbits
