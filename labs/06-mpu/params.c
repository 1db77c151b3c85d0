/*
 * Per-boot parameters on the Cortex-M: the semihosting command line, which
 * QEMU builds from -semihosting-config ...,arg=seed=0x5,arg=...  The same
 * "key=value" words and the same kit_param() as fw_cfg gives the x86 labs.
 */
#include <kit/kit.h>
#include "lab06.h"
#include "../kernel/core.h"

#define MAX_PARAMS 32

static char text[1024];
static const char *keys[MAX_PARAMS], *values[MAX_PARAMS];
static int count;

void params_init(void)
{
    struct {
        char *buf;
        u32 len;
    } block = {text, sizeof text - 1};
    if (semihost(SEMI_SYS_GET_CMDLINE, &block) != 0)
        text[0] = '\0';
    for (char *p = text; *p && count < MAX_PARAMS;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        keys[count] = p;
        values[count] = NULL;
        for (; *p && *p != ' '; p++)
            if (*p == '=' && !values[count]) {
                *p = '\0';
                values[count] = p + 1;
            }
        if (!values[count])
            values[count] = "";
        count++;
    }
}

const char *kit_param(const char *key)
{
    const char *found = NULL;
    for (int i = 0; i < count; i++) /* the last one wins */
        if (strcmp(keys[i], key) == 0)
            found = values[i];
    return found;
}

u64 kit_param_u64(const char *key, u64 fallback)
{
    const char *v = kit_param(key);
    u64 x;
    return v && parse_u64(v, &x) ? x : fallback;
}
