/*
 * Faults made from ring 3. The probes live in __usertext (pages with the user
 * bit), read their target from __userdata and run on a __userdata stack; the
 * kit drops to them with enter_user(). They end in ud2, so a probe that
 * faults nowhere shows as #UD instead of running on.
 *
 *   user_read_probe    8-byte load from user_target
 *   user_write_probe   8-byte store to user_target
 *   user_int3_probe    int3 (allowed from ring 3 only if the #BP gate has DPL 3),
 *                      then a load from user_target
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/pte.h>
#include <kit/segments.h>
#include "lab2.h"

__userdata vaddr_t user_target;
static __userdata u8 user_stack[PAGE_SIZE];

#define USER_PROBE __attribute__((naked, noinline, used)) __usertext

USER_PROBE void user_read_probe(void)
{
    __asm__ volatile("mov user_target(%rip), %rax\n\t"
                     "mov (%rax), %rax\n\t"
                     "ud2");
}

USER_PROBE void user_write_probe(void)
{
    __asm__ volatile("mov user_target(%rip), %rax\n\t"
                     "movq $0x5a5a, (%rax)\n\t"
                     "ud2");
}

USER_PROBE void user_int3_probe(void)
{
    __asm__ volatile("int3\n\t"
                     "mov user_target(%rip), %rax\n\t"
                     "mov (%rax), %rax\n\t"
                     "ud2");
}

void user_fault(const char *how, vaddr_t addr)
{
    void (*probe)(void) = !strcmp(how, "uread")    ? user_read_probe
                          : !strcmp(how, "uwrite") ? user_write_probe
                                                   : user_int3_probe;
    user_target = addr;
    enter_user((vaddr_t)probe, (vaddr_t)(user_stack + sizeof user_stack));
}
