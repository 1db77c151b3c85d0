/*
 * Entry stubs for the 32 exception vectors. Each pushes a zero where the CPU
 * pushes no error code, then the vector number, saves the general registers
 * in the order of struct trapframe and calls trap(tf). If trap returns, the
 * registers are restored and iretq resumes the interrupted code.
 */
    .text
    .globl trap_common
trap_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    cld
    call trap
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                   /* vector and error code */
    iretq

/* Vectors whose exceptions push an error code: 8, 10-14, 17, 21, 29, 30. */
.macro VECTOR n
    .globl trap_vector\n
trap_vector\n:
    .if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    push $0
    .endif
    push $\n
    jmp trap_common
.endm

    .altmacro
.set i, 0
.rept 32
    VECTOR %i
    .set i, i + 1
.endr

/*
 * The UART's receive interrupt (vector SERIAL_VECTOR, see serial.c). Not an
 * exception, so it skips trap(): a breakpoint on trap stops on exceptions
 * only. Saves the registers a C call may change (9 pushes after the CPU's 5
 * keep the stack 16-byte aligned at the call), acknowledges, returns.
 */
    .text
    .globl serial_interrupt
serial_interrupt:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    cld
    call serial_irq
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    .section .rodata
    .balign 8
    .globl trap_vectors
trap_vectors:
.macro VECADDR n
    .quad trap_vector\n
.endm
.set i, 0
.rept 32
    VECADDR %i
    .set i, i + 1
.endr

    .section .note.GNU-stack, "", @progbits
