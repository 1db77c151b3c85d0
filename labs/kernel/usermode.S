/* __noreturn void enter_user(vaddr_t rip, vaddr_t rsp): see <kit/segments.h>. */
#include <kit/segments.h>

    .text
    .globl enter_user
enter_user:
    mov $USER_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    push $USER_DS                   /* SS */
    push %rsi                       /* RSP */
    push $0x2                       /* RFLAGS: IF clear, reserved bit 1 */
    push $USER_CS                   /* CS */
    push %rdi                       /* RIP */
    iretq

    .section .note.GNU-stack, "", @progbits
