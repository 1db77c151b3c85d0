/*
 * The smoke kernel proves the grading harness: a monitor round trip, a value
 * the grader checks against QEMU (CR3), and kernels that go wrong on purpose.
 * With the "misbehave=..." boot parameter it goes wrong before the prompt.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <kit/x86.h>

const char lab_name[] = "smoke";

static __noreturn void hang(void)
{
    for (;;)
        __asm__ volatile("pause");
}

static __noreturn void triple_fault(void)
{
    struct dtr empty = {0, 0};
    lidt(&empty);                 /* no IDT: the next exception cannot be delivered */
    __asm__ volatile("ud2");
    hang();
}

static __noreturn void flood(void)
{
    for (u64 i = 0;; i++)
        kprintf("flood %lu ........................................................\n", i);
}

static __noreturn void reboot(void)
{
    outb(0x64, 0xfe);             /* pulse the reset line through the keyboard controller */
    hang();
}

static void misbehave(const char *how)
{
    if (!strcmp(how, "hang"))
        hang();
    if (!strcmp(how, "triple"))
        triple_fault();
    if (!strcmp(how, "flood"))
        flood();
    if (!strcmp(how, "reboot"))
        reboot();
    if (!strcmp(how, "silent-hang")) /* never prints anything: the core already did */
        hang();
    if (!strcmp(how, "panic"))
        panic("smoke: asked to panic");
    if (!strcmp(how, "fault"))
        *(volatile u64 *)0xdeadbeaf = 1;
    if (!strcmp(how, "stub")) /* a lab's stub, before any line of the kernel's own */
        LAB_STUB(9, "smoke_stub");
    if (!strcmp(how, "late-stub")) { /* the same stub after a line of its own */
        kprintf("smoke: a line before the stub\n");
        LAB_STUB(9, "smoke_stub");
    }
    kprintf("smoke: unknown behaviour '%s'\n", how);
}

void lab_main(void)
{
    const char *how = kit_param("misbehave");
    if (how)
        misbehave(how);
}

static int cmd_cr3(int argc, char **argv)
{
    kprintf("cr3 0x%lx\n", read_cr3());
    return 0;
}
MONITOR_COMMAND(cr3, "cr3                  print CR3", cmd_cr3);

static int cmd_misbehave(int argc, char **argv)
{
    if (argc < 2) {
        kprintf("usage: misbehave hang|triple|flood|reboot|panic|fault|stub|late-stub\n");
        return 1;
    }
    misbehave(argv[1]);
    return 0;
}
MONITOR_COMMAND(misbehave, "misbehave HOW        hang|triple|flood|reboot|panic|fault|stub|late-stub",
                cmd_misbehave);

static int cmd_echo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        kprintf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
    return 0;
}
MONITOR_COMMAND(echo, "echo WORDS...        print the words back", cmd_echo);

/* fmt N: N printed through every kprintf conversion, for the harness to
 * compare with its own formatting. */
static int cmd_fmt(int argc, char **argv)
{
    u64 v;
    if (!monitor_arg_u64(argc, argv, 1, &v))
        return 1;
    kprintf("d=%d u=%u x=%x lx=%lx ld=%ld p=%p 08x=%08x 5d=%5d 016lx=%016lx s=%s c=%c -6s=%-6s|\n",
            (int)v, (unsigned)v, (unsigned)v, v, (i64)v, (void *)v, (unsigned)v, (int)(v % 100000),
            v, argv[1], 'A' + (int)(v % 26), "ab");
    return 0;
}
MONITOR_COMMAND(fmt, "fmt N                print N in every kprintf format", cmd_fmt);
