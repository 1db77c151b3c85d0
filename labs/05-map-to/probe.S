/*
 * Probes: one load or one store that may fault. Each access is the first
 * instruction of its function, so when it faults the #PF handler can resume
 * at probe_fail (fault.c, probe_fixup), which returns false to the caller:
 * the stack still holds just the return address.
 *
 *   bool probe_read(vaddr_t va, u64 *out)      (rdi, rsi)
 *   bool probe_write(vaddr_t va, u64 value)    (rdi, rsi)
 */
    .text
    .globl probe_read, probe_write, probe_read_insn, probe_write_insn, probe_fail
probe_read:
probe_read_insn:
    mov (%rdi), %rax
    mov %rax, (%rsi)
    mov $1, %eax
    ret

probe_write:
probe_write_insn:
    mov %rsi, (%rdi)
    mov $1, %eax
    ret

probe_fail:
    xor %eax, %eax
    ret

    .section .note.GNU-stack, "", @progbits
