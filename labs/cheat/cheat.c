/*
 * A kernel that tries to fool the grader, one way per CHEAT_MODE:
 *   dump_hang   print everything a solution run printed, then halt
 *   dump_exit   print it all, then leave QEMU with the "success" code 0
 *   exit_now    leave QEMU with code 0 at once
 *   replay      answer each monitor command with the output a solution run
 *               gave for the same command line (or the same command name)
 *   triple, reboot, flood, silent, bad_prompt   broken in the obvious way
 *   escapes     replay, with terminal escape codes and carriage returns that
 *               would redraw a score table on the grader's terminal
 *   int3_loop   take #BP forever through a gate that returns at once, so
 *               QEMU's exception log (-d int) grows without end
 * None of these may score a point: the grader's verdicts come from QEMU's
 * view of the machine and values chosen per boot, never from printed text.
 */
#include <kit/kit.h>
#include <kit/x86.h>
#include "../kernel/core.h"
#include CHEAT_REPLAY /* const char *const replay_banner; replay[][2] = {{cmd, out}...} */

const char lab_name[] = CHEAT_LAB;

enum { DUMP_HANG, DUMP_EXIT, EXIT_NOW, REPLAY, TRIPLE, REBOOT, FLOOD, SILENT, BAD_PROMPT, ESCAPES,
       INT3_LOOP };

static __noreturn void halt_forever(void)
{
    for (;;) {
        cli();
        hlt();
    }
}

static void puts_raw(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

static bool contains(const char *s, const char *word)
{
    for (size_t n = strlen(word); *s; s++)
        if (!strncmp(s, word, n))
            return true;
    return false;
}

static const char *lookup(const char *line)
{
    size_t name_len = 0;
    while (line[name_len] && line[name_len] != ' ')
        name_len++;
    const char *by_name = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(replay); i++) {
        if (!strcmp(replay[i][0], line))
            return replay[i][1];
        if (!by_name && !strncmp(replay[i][0], line, name_len) &&
            (replay[i][0][name_len] == ' ' || !replay[i][0][name_len]))
            by_name = replay[i][1];
    }
    return by_name ? by_name : "";
}

/* What the escapes mode adds around every answer: clear the line, go up,
 * write a fake passing row, ring the bell, set the window title. */
static const char escapes[] = "\r\033[2K\033[1A\033[2K  test_everything............ OK  100/100\r\a"
                              "\033]0;all tests passed\007\033[32m";

static __noreturn void replay_monitor(bool with_escapes)
{
    static char line[256];
    for (;;) {
        puts_raw("lab> ");
        size_t n = 0;
        for (int c; (c = serial_getc()) != '\r' && c != '\n';)
            if (n + 1 < sizeof line)
                line[n++] = (char)c;
        line[n] = '\0';
        puts_raw(line);
        puts_raw("\n");
        const char *out = lookup(line);
        if (with_escapes)
            puts_raw(escapes);
        puts_raw(out);
        if (contains(out, "kit: stopped"))
            halt_forever();
    }
}

/* int3_loop: an IDT whose #BP gate (vector 3) leads to a bare iretq. */
extern char int3_return[];
__asm__(".text\nint3_return: iretq\n");

static __noreturn void int3_forever(void)
{
    static u64 idt[2 * 4] __attribute__((aligned(16)));
    u16 cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    u64 target = (u64)int3_return;
    /* a 64-bit interrupt gate: offset 15:0, selector, P=1 DPL=0 type 0xE, offset 63:16 */
    idt[2 * 3] = (target & 0xffff) | (u64)cs << 16 | 0x8eULL << 40 | ((target >> 16) & 0xffff) << 48;
    idt[2 * 3 + 1] = target >> 32;
    struct dtr d = {sizeof idt - 1, (u64)idt};
    lidt(&d);
    for (;;)
        __asm__ volatile("int3");
}

void lab_main(void)
{
    switch (CHEAT_MODE) {
    case DUMP_HANG:
    case DUMP_EXIT:
        for (size_t i = 0; i < ARRAY_SIZE(replay); i++) {
            puts_raw("lab> ");
            puts_raw(replay[i][0]);
            puts_raw("\n");
            puts_raw(replay[i][1]);
        }
        if (CHEAT_MODE == DUMP_EXIT)
            kit_exit(0);
        halt_forever();
    case EXIT_NOW:
        kit_exit(0);
    case REPLAY:
    case ESCAPES:
        replay_monitor(CHEAT_MODE == ESCAPES);
    case TRIPLE: {
        struct dtr none = {0, 0};
        lidt(&none);
        __asm__ volatile("int3");
        halt_forever();
    }
    case REBOOT:
        outb(0x64, 0xfe);
        halt_forever();
    case FLOOD:
        for (;;)
            puts_raw("lab> lab> kit: stopped EXCEPTION 14 #PF Page Fault err=0x2 ........\n");
    case SILENT:
        halt_forever();
    case BAD_PROMPT:
        for (;;) {
            puts_raw("lab>\n");
            serial_getc();
        }
    case INT3_LOOP:
        int3_forever();
    }
}
