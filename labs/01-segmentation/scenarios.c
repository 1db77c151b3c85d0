/*
 * Lab 1's scenarios: load a selector into a segment register (ring 0 or
 * ring 3), run a privileged instruction in ring 3, call through the gate.
 *
 * `testdesc` adds one descriptor of the user's choosing: the kit copies the
 * student's GDT into a table one slot longer (scenario_gdt) and loads that,
 * so the test descriptor lives at TEST_SEL without touching the student's
 * layout. Every ring-3 scenario ends the boot with a fault the kit reports,
 * and QEMU's exception record (-d int) says exactly where ring 3 got to.
 */
#include <kit/boot.h>
#include <kit/kit.h>
#include <kit/monitor.h>
#include <kit/segments.h>
#include <kit/trap.h>
#include <kit/x86.h>
#include <gdt.h>
#include "lab01.h"

#define TEST_SLOT GDT_ENTRIES /* first slot past the student's table */
#define TEST_SEL  SEL_MAKE(TEST_SLOT, 0)
#define SCENARIO_GDT_ENTRIES (GDT_ENTRIES + 1)
#define USER_STACK_BYTES 4096
#define USER_STACK_SLACK 256 /* bytes always left below the ring-3 stack pointer */
#define DEFAULT_PORT 0x80

static u64 scenario_gdt[SCENARIO_GDT_ENTRIES] __aligned(16);
static bool scenario_gdt_live;
static u8 user_stack[USER_STACK_BYTES] __userdata;

enum sreg { SREG_DS, SREG_ES, SREG_FS, SREG_GS, SREG_SS, SREG_COUNT };

static const struct {
    const char *name;
    char *user_entry;
} sregs[SREG_COUNT] = {
    [SREG_DS] = {"ds", user_load_ds}, [SREG_ES] = {"es", user_load_es},
    [SREG_FS] = {"fs", user_load_fs}, [SREG_GS] = {"gs", user_load_gs},
    [SREG_SS] = {"ss", user_load_ss},
};

static const struct {
    const char *name;
    char *entry;
} privileged[] = {
    {"hlt", user_hlt},     {"cli", user_cli},     {"sti", user_sti},     {"rdcr3", user_rdcr3},
    {"wrcr3", user_wrcr3}, {"rdmsr", user_rdmsr}, {"lgdt", user_lgdt},   {"invlpg", user_invlpg},
    {"in", user_in},       {"out", user_out},
};

/* Index of a segment register's name, or -1 (after printing the choices). */
static int parse_sreg(const char *s)
{
    for (int i = 0; i < SREG_COUNT; i++)
        if (!strcmp(s, sregs[i].name))
            return i;
    kprintf("unknown segment register '%s': ds es fs gs ss (CS changes only by a far transfer)\n", s);
    return -1;
}

/* The ring-3 stack pointer: the "ustack" boot parameter's depth below the top. */
static vaddr_t user_rsp(void)
{
    u64 depth = ALIGN_DOWN(kit_param_u64("ustack", 0), 16);
    if (depth > USER_STACK_BYTES - USER_STACK_SLACK)
        depth = USER_STACK_BYTES - USER_STACK_SLACK;
    return (vaddr_t)user_stack + USER_STACK_BYTES - depth;
}

/* #UD: ring 3 reached its final ud2 without faulting earlier. */
static void user_finished(struct trapframe *tf)
{
    if ((tf->cs & SEL_RPL_MASK) != 3) {
        trap_report(tf);
        kit_stop();
    }
    kprintf("user: ring 3 ran to its ud2 at 0x%lx without a fault (CS 0x%lx SS 0x%lx)\n", tf->rip,
            tf->cs, tf->ss);
    kit_stop();
}

/* #BP from gate_entry: report where the gate brought us, then let it return. */
static void gate_arrived(struct trapframe *tf)
{
    kprintf("gate: arrived at CPL %lu, CS 0x%lx, RSP 0x%lx (TSS RSP0 0x%lx)\n",
            tf->cs & SEL_RPL_MASK, tf->cs, tf->rsp, tss.rsp[0]);
}

static __noreturn void run_user(char *entry)
{
    trap_register(T_UD, user_finished);
    kprintf("user: entering ring 3 at 0x%lx, stack 0x%lx\n", (u64)entry, user_rsp());
    enter_user((vaddr_t)entry, user_rsp());
}

/* ---- testdesc ---- */

static void scenario_gdt_load(void)
{
    if (scenario_gdt_live)
        return;
    memcpy(scenario_gdt, gdt, sizeof gdt);
    struct dtr d = {.limit = sizeof scenario_gdt - 1, .base = (u64)scenario_gdt};
    lgdt(&d);
    scenario_gdt_live = true;
}

static int cmd_testdesc(int argc, char **argv)
{
    u64 base, limit, access, flags;
    if (!monitor_arg_u64(argc, argv, 1, &base) || !monitor_arg_u64(argc, argv, 2, &limit) ||
        !monitor_arg_u64(argc, argv, 3, &access) || !monitor_arg_u64(argc, argv, 4, &flags))
        return 1;
    if (base > 0xffffffffull || limit > SEG_LIMIT_MAX || access > 0xff || flags > 0xf) {
        kprintf("testdesc: base is 32 bits, limit 20, access 8, flags 4\n");
        return 1;
    }
    u64 d = seg_encode((u32)base, (u32)limit, (u8)access, (u8)flags);
    scenario_gdt_load();
    scenario_gdt[TEST_SLOT] = d;
    kprintf("testdesc: GDT copied to %p (limit 0x%lx), selector 0x%x:\n", scenario_gdt,
            sizeof scenario_gdt - 1, TEST_SEL);
    gdt_print_slot(scenario_gdt, TEST_SLOT, SCENARIO_GDT_ENTRIES);
    return 0;
}
MONITOR_COMMAND(testdesc, "testdesc BASE LIMIT ACCESS FLAGS  put seg_encode(...) at selector 0x48", cmd_testdesc);

/* ---- load (ring 0) and uload (ring 3) ---- */

/* Load sel into one segment register at CPL 0 (the CPU's checks apply).
 * Not inlined, so a fault's RIP names it for the grader; static, so that
 * gdt_init() loads its segment registers itself. */
static __attribute__((noinline)) void load_segment(int reg, u16 sel)
{
    u32 v = sel;
    switch (reg) {
    case SREG_DS: __asm__ volatile("mov %0, %%ds" ::"r"(v)); break;
    case SREG_ES: __asm__ volatile("mov %0, %%es" ::"r"(v)); break;
    case SREG_FS: __asm__ volatile("mov %0, %%fs" ::"r"(v)); break;
    case SREG_GS: __asm__ volatile("mov %0, %%gs" ::"r"(v)); break;
    case SREG_SS: __asm__ volatile("mov %0, %%ss" ::"r"(v)); break;
    }
}

static u16 read_sreg(int reg)
{
    u16 v = 0;
    switch (reg) {
    case SREG_DS: __asm__ volatile("mov %%ds, %0" : "=r"(v)); break;
    case SREG_ES: __asm__ volatile("mov %%es, %0" : "=r"(v)); break;
    case SREG_FS: __asm__ volatile("mov %%fs, %0" : "=r"(v)); break;
    case SREG_GS: __asm__ volatile("mov %%gs, %0" : "=r"(v)); break;
    case SREG_SS: __asm__ volatile("mov %%ss, %0" : "=r"(v)); break;
    }
    return v;
}

static int parse_load(int argc, char **argv, int *reg, u64 *sel)
{
    if (argc < 3) {
        kprintf("usage: %s REG SELECTOR   (REG: ds es fs gs ss)\n", argv[0]);
        return 1;
    }
    if ((*reg = parse_sreg(argv[1])) < 0 || !monitor_arg_u64(argc, argv, 2, sel))
        return 1;
    if (*sel > 0xffff) {
        kprintf("%s: a selector is 16 bits\n", argv[0]);
        return 1;
    }
    return 0;
}

static int cmd_load(int argc, char **argv)
{
    int reg;
    u64 sel;
    if (parse_load(argc, argv, &reg, &sel))
        return 1;
    kprintf("load: %s <- 0x%04lx at CPL 0\n", sregs[reg].name, sel);
    load_segment(reg, (u16)sel);
    kprintf("load: ok, %s = 0x%04x (see `info registers` in QEMU's monitor)\n", sregs[reg].name,
            read_sreg(reg));
    return 0;
}
MONITOR_COMMAND(load, "load REG SEL         load a selector into ds|es|fs|gs|ss at CPL 0", cmd_load);

static int cmd_uload(int argc, char **argv)
{
    int reg;
    u64 sel;
    if (parse_load(argc, argv, &reg, &sel))
        return 1;
    user_sel = sel;
    kprintf("uload: %s <- 0x%04lx at CPL 3 (this ends the boot)\n", sregs[reg].name, sel);
    run_user(sregs[reg].user_entry);
}
MONITOR_COMMAND(uload, "uload REG SEL        the same from ring 3 (ends the boot)", cmd_uload);

/* ---- user: a privileged instruction in ring 3 ---- */

static int cmd_user(int argc, char **argv)
{
    u64 port = DEFAULT_PORT;
    if (argc < 2 || (argc > 2 && !monitor_arg_u64(argc, argv, 2, &port)) || port > 0xffff) {
        kprintf("usage: user INSN [PORT]   INSN:");
        for (size_t i = 0; i < ARRAY_SIZE(privileged); i++)
            kprintf(" %s", privileged[i].name);
        kprintf("\n");
        return 1;
    }
    for (size_t i = 0; i < ARRAY_SIZE(privileged); i++) {
        if (strcmp(argv[1], privileged[i].name))
            continue;
        user_port = port;
        kprintf("user: %s in ring 3 (port 0x%lx; this ends the boot)\n", privileged[i].name, port);
        run_user(privileged[i].entry);
    }
    kprintf("user: unknown instruction '%s'\n", argv[1]);
    return 1;
}
MONITOR_COMMAND(user, "user INSN [PORT]     run hlt|cli|sti|rdcr3|wrcr3|rdmsr|lgdt|invlpg|in|out in ring 3", cmd_user);

/* ---- gate: ring 3 -> call gate -> ring 0 -> back to ring 3 ---- */

/* callgate_install(gate_entry), into the live table too if testdesc replaced it. */
static void gate_install(void)
{
    callgate_install((u64)gate_entry);
    if (scenario_gdt_live)
        memcpy(&scenario_gdt[SEL_INDEX(CALLGATE_SEL)], &gdt[SEL_INDEX(CALLGATE_SEL)], 2 * sizeof(u64));
}

static int cmd_callgate(int argc, char **argv)
{
    gate_install();
    kprintf("callgate: callgate_install(gate_entry = %p):\n", gate_entry);
    gdt_print_slot(gdt, SEL_INDEX(CALLGATE_SEL), GDT_ENTRIES);
    return 0;
}
MONITOR_COMMAND(callgate, "callgate             install the call gate to gate_entry and show it", cmd_callgate);

static int cmd_gate(int argc, char **argv)
{
    gate_install();
    trap_register(T_BP, gate_arrived);
    kprintf("gate: ring 3 calls 0x%x:0 (this ends the boot)\n", CALLGATE_SEL | SEL_RPL3);
    run_user(user_gate);
}
MONITOR_COMMAND(gate, "gate                 ring 3 far-calls the gate, which returns (ends the boot)", cmd_gate);

/* ---- scenarios chosen by the grader at boot ---- */

#define RUN_MAX  160
#define RUN_ARGS 8

static const struct {
    const char *name;
    monitor_fn fn;
} scenario_commands[] = {
    {"testdesc", cmd_testdesc}, {"load", cmd_load}, {"uload", cmd_uload},
    {"user", cmd_user},         {"gate", cmd_gate},   {"callgate", cmd_callgate},
    {"encode", cmd_encode},     {"sysencode", cmd_sysencode},
};

/* Run one "word:word:..." command of the run= parameter; false if unknown. */
static bool run_one(char *cmd)
{
    char *argv[RUN_ARGS];
    int argc = 0;
    for (char *p = cmd; *p && argc < RUN_ARGS;) {
        argv[argc++] = p;
        while (*p && *p != ':')
            p++;
        if (*p)
            *p++ = '\0';
    }
    for (size_t i = 0; argc && i < ARRAY_SIZE(scenario_commands); i++) {
        if (strcmp(argv[0], scenario_commands[i].name))
            continue;
        kprintf("run: %s", argv[0]);
        for (int a = 1; a < argc; a++)
            kprintf(" %s", argv[a]);
        kprintf("\n");
        scenario_commands[i].fn(argc, argv);
        return true;
    }
    kprintf("run: unknown scenario command '%s'\n", argc ? argv[0] : "");
    return false;
}

/*
 * The "run" boot parameter lists scenario commands to run before the prompt,
 * commands separated by ',' and words by ':', e.g.
 *     run=testdesc:0x1000:0xfff:0x12:0x0,load:ds:0x48
 * so a fresh boot goes straight to its scenario without a monitor round trip.
 * A scenario ends the boot: if its commands return, the kit stops anyway.
 */
void scenarios_run_params(void)
{
    const char *run = kit_param("run");
    static char buf[RUN_MAX];
    if (!run)
        return;
    size_t n = strlen(run);
    if (n >= sizeof buf)
        panic("run: parameter longer than %lu bytes", (u64)sizeof buf - 1);
    memcpy(buf, run, n + 1);
    for (char *cmd = buf; cmd && *cmd;) {
        char *next = cmd;
        while (*next && *next != ',')
            next++;
        char *rest = *next ? next + 1 : NULL;
        *next = '\0';
        if (!run_one(cmd))
            break;
        cmd = rest;
    }
    kdiag("run: the scenario returned without a fault");
    kit_stop();
}
