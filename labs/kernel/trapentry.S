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

/*
 * void core_idt_fill(void *idt, const u64 *vectors, int count)
 * Writes count 16-byte interrupt gates (selector 0x08, DPL 0, no IST).
 */
    .text
    .globl core_idt_fill
core_idt_fill:
1:  test %edx, %edx
    jz 2f
    mov (%rsi), %rax
    mov %ax, (%rdi)                 /* offset 15:0 */
    movw $0x08, 2(%rdi)             /* kernel code selector */
    movw $0x8e00, 4(%rdi)           /* present, DPL 0, 64-bit interrupt gate */
    shr $16, %rax
    mov %ax, 6(%rdi)                /* offset 31:16 */
    shr $16, %rax
    mov %eax, 8(%rdi)               /* offset 63:32 */
    movl $0, 12(%rdi)
    add $16, %rdi
    add $8, %rsi
    dec %edx
    jmp 1b
2:  ret

    .section .note.GNU-stack, "", @progbits
