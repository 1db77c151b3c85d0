/*
 * The jobs unprivileged code runs. Everything a job touches lives in
 * .user_text (region 0: read-only, executable) and .user_data (region 1:
 * read-write, execute-never), except the one address the job was told to
 * access. Keep this code simple: a call into kernel code (a library helper,
 * a switch's jump table in .rodata) would itself fault.
 */
#include <kit/kit.h>
#include <user.h>
#include "lab06.h"

#define USER_STACK_WORDS 512

struct user_job {
    u32 op;    /* enum user_op */
    u32 addr;  /* the address to read, write or run */
    u32 value; /* the value to write */
};

static struct user_job job USER_DATA;
static u32 user_stack[USER_STACK_WORDS] USER_DATA __aligned(8);

typedef u32 (*code_fn)(void);

/* The three accesses, one function each: the grader finds a faulting pc by
 * these names in the kernel ELF. */
USER_TEXT u32 user_read_word(u32 addr) { return *(volatile u32 *)addr; }

USER_TEXT u32 user_write_word(u32 addr, u32 value)
{
    *(volatile u32 *)addr = value;
    return value;
}

/* Run the code at addr (a Thumb function: the address gets bit 0). */
USER_TEXT u32 user_exec(u32 addr) { return ((code_fn)(addr | 1))(); }

/* Point the stack at addr and take an exception (svc #1): the CPU stacks
 * its frame just below addr, so a forbidden addr is a stacking fault. */
USER_TEXT void user_stack_at(u32 addr)
{
    __asm__ volatile("mov sp, %0\n\tsvc #1" : : "r"(addr) : "memory");
}

/* The job's entry point (user_enter branches here); returns by svc. */
USER_TEXT void user_job_entry(u32 arg)
{
    struct user_job *j = (struct user_job *)arg;
    u32 result = 0;
    if (j->op == USER_READ)
        result = user_read_word(j->addr);
    else if (j->op == USER_WRITE)
        result = user_write_word(j->addr, j->value);
    else if (j->op == USER_EXEC)
        result = user_exec(j->addr);
    else if (j->op == USER_STACK)
        user_stack_at(j->addr);
    register u32 r0 __asm__("r0") = result;
    __asm__ volatile("svc #0" : : "r"(r0));
    for (;;)
        ; /* svc_handler never comes back here */
}

u32 user_run(enum user_op op, u32 addr, u32 value)
{
    job.op = op;
    job.addr = addr;
    job.value = value;
    return user_call(user_job_entry, (u32)&job, (u32)&user_stack[USER_STACK_WORDS]);
}

u32 kern_run(enum user_op op, u32 addr, u32 value)
{
    if (op == USER_READ)
        return *(volatile u32 *)addr;
    if (op == USER_WRITE) {
        *(volatile u32 *)addr = value;
        return value;
    }
    return ((code_fn)(addr | 1))();
}
