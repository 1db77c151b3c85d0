/*
 * Per-boot parameters: "key=value" words, parsed once; the last word of a key
 * wins. Where the words come from is the platform's business: on x86 the
 * multiboot2/PVH command line then QEMU's fw_cfg (fwcfg.c), on the Cortex-M
 * lab the semihosting command line. Portable C: the ARM lab links this file.
 */
#include <kit/kit.h>
#include "core.h"

#define MAX_PARAMS 32

static const char *keys[MAX_PARAMS], *values[MAX_PARAMS];
static int count;

void params_parse(char *text)
{
    /* Split into words, and each word at its first '='. */
    for (char *p = text; *p && count < MAX_PARAMS;) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        keys[count] = p;
        values[count] = NULL;
        while (*p && *p != ' ' && *p != '\n' && *p != '\t') {
            if (*p == '=' && !values[count]) {
                *p = '\0';
                values[count] = p + 1;
            }
            p++;
        }
        if (!values[count])
            values[count] = "";
        count++;
    }
}

const char *kit_param(const char *key)
{
    const char *found = NULL;
    for (int i = 0; i < count; i++) /* the last one wins: fw_cfg overrides grub.cfg */
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

static u64 rand_state;

u64 kit_rand(void)
{
    if (!rand_state)
        rand_state = kit_param_u64("seed", 0x2545f4914f6cdd1dull) | 1;
    rand_state ^= rand_state >> 12;
    rand_state ^= rand_state << 25;
    rand_state ^= rand_state >> 27;
    return rand_state * 0x2545f4914f6cdd1dull;
}
