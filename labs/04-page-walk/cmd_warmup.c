/*
 * Monitor commands of Lab 4, Part A: they run the student's translators
 * (starter/04-page-walk/warmup/) on the tables warmup_tables.c loaded and
 * print each answer, one line per query, in a form both people and the
 * grader read:
 *
 *   toy 0 0x2004 0x3004         ->  0x2004 -> 0x6004
 *                                   0x3004 -> fault
 *   inverted 0 2 0x10abc        ->  pid 2 0x10abc -> 0x7abc
 *
 * Without addresses, a command runs the queries that came with the table
 * (the grader's, or the examples'). `warmup` lists the tables.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include "warmup_tables.h"

/* Run t's translator on one query and print the answer. Each call gets its
 * own copy of the table's description, so no answer depends on an earlier call. */
static void answer(const struct warmup_table *t, const struct warmup_query *q)
{
    char who[16] = "";
    uint32_t pa = 0;
    bool mapped;
    if (t->kind == WARMUP_INVERTED)
        ksnprintf(who, sizeof who, "pid %u ", q->pid);
    if (t->kind == WARMUP_TOY && q->va >> (TOY_INDEX_BITS + TOY_OFFSET_BITS)) {
        kprintf("0x%x -> not-a-16-bit-address\n", q->va);
        return;
    }
    if (t->kind == WARMUP_TOY) {
        mapped = toy_translate(t->toy, q->va, &pa);
    } else if (t->kind == WARMUP_X86_32) {
        struct x86_32_table copy = t->x86_32;
        mapped = x86_32_translate(&copy, q->va, &pa);
    } else {
        struct ipt_table copy = t->ipt;
        mapped = ipt_translate(&copy, q->pid, q->va, &pa);
    }
    if (mapped)
        kprintf("%s0x%x -> 0x%x\n", who, q->va, pa);
    else
        kprintf("%s0x%x -> fault\n", who, q->va);
}

/* COMMAND N [PID] [VA...]: table N of `kind`; the addresses typed from argv[first],
 * or the table's own queries when there are none. */
static int run(enum warmup_kind kind, int argc, char **argv, int first)
{
    u64 index, pid = 0, va;
    if (!monitor_arg_u64(argc, argv, 1, &index))
        return 1;
    const struct warmup_table *t = warmup_table(kind, index);
    if (!t) {
        kprintf("%s: there is no table %lu (`warmup` lists them)\n", argv[0], index);
        return 1;
    }
    if (argc <= first) {
        for (u32 i = 0; i < t->nqueries; i++)
            answer(t, &t->query[i]);
        return 0;
    }
    if (kind == WARMUP_INVERTED && !monitor_arg_u64(argc, argv, 2, &pid))
        return 1;
    for (int i = first; i < argc; i++) {
        if (!monitor_arg_u64(argc, argv, i, &va))
            return 1;
        answer(t, &(struct warmup_query){(uint32_t)pid, (uint32_t)va});
    }
    return 0;
}

static int cmd_toy(int argc, char **argv)
{
    return run(WARMUP_TOY, argc, argv, 2);
}
MONITOR_COMMAND(toy, "toy N [VA...]        toy_translate() on toy table N (Lab 4 Part A)", cmd_toy);

static int cmd_x86_32(int argc, char **argv)
{
    return run(WARMUP_X86_32, argc, argv, 2);
}
MONITOR_COMMAND(x86_32, "x86_32 N [VA...]     x86_32_translate() on 32-bit tables N (Lab 4 Part A)",
                cmd_x86_32);

static int cmd_inverted(int argc, char **argv)
{
    if (argc == 3) { /* a pid and no address */
        kprintf("usage: inverted N [PID VA...]\n");
        return 1;
    }
    return run(WARMUP_INVERTED, argc, argv, 3);
}
MONITOR_COMMAND(inverted, "inverted N [PID VA...]  ipt_translate() on inverted table N (Lab 4 Part A)",
                cmd_inverted);

/* warmup: one line per table, what it holds and how many queries came with it. */
static int cmd_warmup(int argc, char **argv)
{
    kprintf("Part A tables (%s):\n", warmup_source());
    const struct warmup_table *t;
    for (unsigned i = 0; (t = warmup_table(WARMUP_TOY, i)); i++) {
        kprintf("  toy %u: entries", i);
        for (unsigned e = 0; e < TOY_ENTRIES; e++)
            kprintf(" %x", t->toy->entry[e]);
        kprintf("; %u queries\n", t->nqueries);
    }
    for (unsigned i = 0; (t = warmup_table(WARMUP_X86_32, i)); i++)
        kprintf("  x86_32 %u: cr3 0x%x, 0x%x bytes of memory; %u queries\n", i, t->x86_32.cr3,
                t->x86_32.mem_size, t->nqueries);
    for (unsigned i = 0; (t = warmup_table(WARMUP_INVERTED, i)); i++)
        kprintf("  inverted %u: %u frames, %u buckets; %u queries\n", i, t->ipt.nframes,
                t->ipt.nbuckets, t->nqueries);
    return 0;
}
MONITOR_COMMAND(warmup, "warmup               list the Part A tables (Lab 4)", cmd_warmup);
