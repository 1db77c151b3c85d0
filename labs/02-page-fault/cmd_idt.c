/*
 * Monitor commands over the student's IDT code:
 *   gate HANDLER SEL TYPE DPL IST   print idt_gate_encode's two quadwords
 *   pferr CODE...                   print pferr_decode of each error code
 *   pferr all [NOISE]               the same for every combination of the bits
 *                                   of <kit/pferr.h>, each ORed with NOISE
 *   pferrn SIZE CODE                pferr_decode into pferr_probe with a SIZE-byte
 *                                   budget; the rest of pferr_probe keeps its fill
 *   idt                             print IDTR and the 32 exception gates, raw
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <kit/pferr.h>
#include <kit/x86.h>
#include <idt.h>
#include "lab2.h"

#define GATE_ARGS  6
#define FLAGS_TEXT 128
#define GATE_BYTES sizeof(struct idt_gate)

static int cmd_gate(int argc, char **argv)
{
    u64 a[GATE_ARGS];
    for (int i = 1; i < GATE_ARGS; i++)
        if (!monitor_arg_u64(argc, argv, i, &a[i]))
            return 1;
    struct idt_gate g = idt_gate_encode(a[1], (u16)a[2], (u8)a[3], (u8)a[4], (u8)a[5]);
    kprintf("gate lo=0x%016lx hi=0x%016lx\n", g.lo, g.hi);
    return 0;
}
MONITOR_COMMAND(gate, "gate HANDLER SEL TYPE DPL IST   encode a 64-bit IDT gate", cmd_gate);

/* The boot parameters gate_handler= gate_sel= gate_type= gate_dpl= gate_ist=:
 * one idt_gate_encode, printed, then stop (a refusal is a panic, which ends a
 * boot anyway). The values go through as the parameters' C types allow. */
void gate_param_run(void)
{
    struct idt_gate g = idt_gate_encode(kit_param_u64("gate_handler", 0),
                                        (u16)kit_param_u64("gate_sel", 0),
                                        (u8)kit_param_u64("gate_type", 0),
                                        (u8)kit_param_u64("gate_dpl", 0),
                                        (u8)kit_param_u64("gate_ist", 0));
    kprintf("gate lo=0x%016lx hi=0x%016lx\n", g.lo, g.hi);
    kdiag("gate: idt_gate_encode returned");
    kit_stop();
}

#define PFERR_DEFINED                                                                              \
    (PFERR_PRESENT | PFERR_WRITE | PFERR_USER | PFERR_RSVD | PFERR_INSTR | PFERR_PK | PFERR_SS |    \
     PFERR_SGX)

static void print_decoded(u64 err)
{
    char text[FLAGS_TEXT];
    pferr_decode(err, text, sizeof text);
    kprintf("pferr 0x%lx [%s]\n", err, text);
}

/* Every subset of PFERR_DEFINED, from the empty one up: (sub - mask) & mask
 * steps to the next subset in counting order. */
static void print_every_combination(u64 noise)
{
    u64 sub = 0;
    do {
        print_decoded(sub | noise);
        sub = (sub - PFERR_DEFINED) & PFERR_DEFINED;
    } while (sub != 0);
}

static int cmd_pferr(int argc, char **argv)
{
    u64 err;
    if (argc > 1 && !strcmp(argv[1], "all")) {
        u64 noise = 0;
        if (argc > 2 && !monitor_arg_u64(argc, argv, 2, &noise))
            return 1;
        print_every_combination(noise);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!monitor_arg_u64(argc, argv, i, &err))
            return 1;
        print_decoded(err);
    }
    return 0;
}
MONITOR_COMMAND(pferr, "pferr CODE...|all [NOISE]  decode page-fault error codes (all: every "
                       "combination of the defined bits, ORed with NOISE)", cmd_pferr);

/* pferrn's buffer: the grader reads it from QEMU's memory, past SIZE too. */
char pferr_probe[PFERR_PROBE_BYTES];

static int cmd_pferrn(int argc, char **argv)
{
    u64 size, err;
    if (!monitor_arg_u64(argc, argv, 1, &size) || !monitor_arg_u64(argc, argv, 2, &err))
        return 1;
    if (size > PFERR_PROBE_BYTES) {
        kprintf("pferrn: SIZE is at most %u\n", PFERR_PROBE_BYTES);
        return 1;
    }
    memset(pferr_probe, PFERR_PROBE_FILL, sizeof pferr_probe);
    int n = pferr_decode(err, pferr_probe, size);
    kprintf("pferrn %lu 0x%lx: returned %d, pferr_probe at %p\n", size, err, n, pferr_probe);
    return 0;
}
MONITOR_COMMAND(pferrn, "pferrn SIZE CODE     pferr_decode into a SIZE-byte budget of pferr_probe", cmd_pferrn);

static int cmd_idt(int argc, char **argv)
{
    struct dtr d;
    sidt(&d);
    kprintf("IDTR base=0x%016lx limit=0x%x (%s)\n", d.base, d.limit,
            d.base == (u64)idt ? "your idt" : "not your idt");
    const struct idt_gate *g = (const struct idt_gate *)d.base;
    for (unsigned v = 0; v < IDT_EXCEPTIONS && (v + 1) * GATE_BYTES - 1 <= d.limit; v++)
        kprintf("  %2u %-4s lo=0x%016lx hi=0x%016lx\n", v, trap_mnemonic(v), g[v].lo, g[v].hi);
    return 0;
}
MONITOR_COMMAND(idt, "idt                  print IDTR and the exception gates (raw)", cmd_idt);
