/*
 * The serial monitor: reads a line with echo and backspace, splits it into
 * words and runs the command of that name from the .monitor table.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include "core.h"

#define LINE_MAX 256
#define ARGS_MAX 16

extern const struct monitor_command __monitor_start[], __monitor_end[];

static void read_line(char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        int c = serial_getc();
        if (c == '\r' || c == '\n') {
            kprintf("\n");
            break;
        }
        if (c == '\b' || c == 0x7f) {
            if (n > 0) {
                n--;
                kprintf("\b \b");
            }
            continue;
        }
        if (c < ' ' || c > '~' || n + 1 >= size)
            continue; /* ignore control characters and overlong lines */
        buf[n++] = (char)c;
        kprintf("%c", c);
    }
    buf[n] = '\0';
}

static int split(char *line, char **argv)
{
    int argc = 0;
    for (char *p = line; *p && argc < ARGS_MAX;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return argc;
}

static const struct monitor_command *lookup(const char *name)
{
    for (const struct monitor_command *c = __monitor_start; c < __monitor_end; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

bool monitor_arg_u64(int argc, char **argv, int i, u64 *out)
{
    if (i < argc && parse_u64(argv[i], out))
        return true;
    const struct monitor_command *c = lookup(argv[0]);
    kprintf("usage: %s\n", c ? c->help : argv[0]);
    return false;
}

static int cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    for (const struct monitor_command *c = __monitor_start; c < __monitor_end; c++)
        kprintf("  %s\n", c->help);
    return 0;
}
MONITOR_COMMAND(help, "help                 list the commands", cmd_help);

static int cmd_exit(int argc, char **argv)
{
    u64 code = 0;
    if (argc > 1 && !monitor_arg_u64(argc, argv, 1, &code))
        return 1;
    kit_exit((u8)code);
}
MONITOR_COMMAND(exit, "exit [CODE]          leave QEMU (isa-debug-exit)", cmd_exit);

static int cmd_params(int argc, char **argv)
{
    (void)argc, (void)argv;
    const char *names[] = {"seed", "physoff", "test"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const char *v = kit_param(names[i]);
        kprintf("  %s=%s\n", names[i], v ? v : "(unset)");
    }
    return 0;
}
MONITOR_COMMAND(params, "params               show the per-boot parameters", cmd_params);

__noreturn void monitor_run(void)
{
    static char line[LINE_MAX];
    char *argv[ARGS_MAX];
    for (;;) {
        kprintf("lab> ");
        read_line(line, sizeof line);
        int argc = split(line, argv);
        if (argc == 0)
            continue;
        const struct monitor_command *c = lookup(argv[0]);
        if (c)
            c->fn(argc, argv);
        else
            kprintf("unknown command '%s' (try help)\n", argv[0]);
    }
}
