/*
 * The serial monitor: a "lab> " prompt with line editing and a table of
 * commands. A lab adds a command with one line, anywhere in its sources:
 *
 *     MONITOR_COMMAND(cr3, "cr3            print CR3 decoded", cmd_cr3);
 *
 * The macro places a struct in the .monitor section; the core walks that
 * table, so the core never needs to know which lab is linked.
 */
#ifndef KIT_MONITOR_H
#define KIT_MONITOR_H

#include <kit/types.h>

typedef int (*monitor_fn)(int argc, char **argv);

struct monitor_command {
    const char *name;
    const char *help; /* one line: usage, then what it does */
    monitor_fn fn;
};

#define MONITOR_COMMAND(cname, chelp, cfn)                                                         \
    static const struct monitor_command __moncmd_##cname                                           \
        __attribute__((used, section(".monitor"), aligned(sizeof(void *)))) = {#cname, chelp, cfn}

/* Run the prompt loop forever. */
__noreturn void monitor_run(void);

/* Helpers for commands: parse argv[i] as a number or print usage and return false. */
bool monitor_arg_u64(int argc, char **argv, int i, u64 *out);

#endif
