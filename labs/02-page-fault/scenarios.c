/*
 * The faults of Lab 2, made by the kernel itself (ring 0). Each probe is a
 * separate function that makes exactly one access, so the grader can check
 * that the RIP a handler reports lies inside it (kernel ELF symbols):
 *
 *   fault read ADDR     probe_read:     8-byte load from ADDR
 *   fault write ADDR    probe_write:    8-byte store to ADDR
 *   fault exec ADDR     probe_exec:     call ADDR (an NX page: fetch fault)
 *   fault rsvd ADDR     probe_read on a page the kit maps with a reserved bit
 *   fault overflow      overflow_recurse: runs the kernel stack into its guard page
 *   peek ADDR           probe_read, and print what it read (a code page works)
 *   int3 WORD           execute int3, then print "after int3 WORD"
 *
 * The boot parameters "fault=KIND addr=ADDR" run one fault before the monitor
 * starts (main.c), after "peek=ADDR" if given: the grader's fatal scenarios
 * never wait at a prompt.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <kit/x86.h>
#include <kit/boot.h>
#include "lab2.h"

#define PROBE __attribute__((noinline, noclone, used))

PROBE u64 probe_read(vaddr_t addr)
{
    u64 v;
    __asm__ volatile("mov (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

PROBE void probe_write(vaddr_t addr, u64 v)
{
    __asm__ volatile("mov %1, (%0)" ::"r"(addr), "r"(v) : "memory");
}

PROBE void probe_exec(vaddr_t addr)
{
    __asm__ volatile("call *%0" ::"r"(addr) : "memory", "rax", "rcx", "rdx", "rsi", "rdi", "r8",
                     "r9", "r10", "r11");
}

#define OVERFLOW_FRAME 256
#define OVERFLOW_DEPTH_MAX (KSTACK_SIZE / OVERFLOW_FRAME * 4) /* far below the guard */

/* Recurse with a 256-byte frame until the stack runs into kstack_guard.
 * The volatile frame and the use after the call keep the compiler from
 * turning the recursion into a loop. */
PROBE u64 overflow_recurse(u64 depth)
{
    volatile u8 frame[OVERFLOW_FRAME];
    frame[0] = (u8)depth;
    if (depth > OVERFLOW_DEPTH_MAX)
        return depth; /* no fault: cmd_fault says so */
    return overflow_recurse(depth + 1) + frame[0];
}

PROBE void probe_int3(void) { __asm__ volatile("int3"); }

int fault_run(const char *kind, vaddr_t addr)
{
    if (!strcmp(kind, "overflow")) {
        kprintf("fault: overflowing the kernel stack (guard page at %p)\n", (void *)kstack_guard);
        overflow_recurse(0);
    } else {
        kprintf("fault: %s 0x%lx\n", kind, addr);
        if (!strcmp(kind, "read"))
            probe_read(addr);
        else if (!strcmp(kind, "write"))
            probe_write(addr, kit_rand());
        else if (!strcmp(kind, "exec"))
            probe_exec(addr);
        else if (!strcmp(kind, "rsvd"))
            rsvd_fault(addr);
        else if (!strcmp(kind, "uread") || !strcmp(kind, "uwrite") || !strcmp(kind, "uint3"))
            user_fault(kind, addr);
        else {
            kprintf("fault: unknown kind '%s'\n", kind);
            return -1;
        }
    }
    kdiag("fault: %s returned without a fault", kind);
    return -1;
}

static int cmd_fault(int argc, char **argv)
{
    u64 addr = 0;
    bool overflow = argc == 2 && !strcmp(argv[1], "overflow");
    if (!overflow && (argc != 3 || !parse_u64(argv[2], &addr))) {
        kprintf("usage: fault read|write|exec|rsvd|uread|uwrite|uint3 ADDR, or fault overflow\n");
        return 1;
    }
    return fault_run(argv[1], addr);
}
MONITOR_COMMAND(fault, "fault KIND ADDR      KIND: read write exec rsvd uread uwrite uint3; "
                       "or 'fault overflow'", cmd_fault);

void peek(vaddr_t addr) { kprintf("peek 0x%lx: 0x%016lx\n", addr, probe_read(addr)); }

static int cmd_peek(int argc, char **argv)
{
    u64 addr;
    if (!monitor_arg_u64(argc, argv, 1, &addr))
        return 1;
    peek(addr);
    return 0;
}
MONITOR_COMMAND(peek, "peek ADDR            read 8 bytes at ADDR (ring 0)", cmd_peek);

static int cmd_int3(int argc, char **argv)
{
    probe_int3();
    kprintf("after int3 %s\n", argc > 1 ? argv[1] : "");
    return 0;
}
MONITOR_COMMAND(int3, "int3 [WORD]          execute int3, then print 'after int3 WORD'", cmd_int3);
