/*
 * Per-boot parameters on the Cortex-M: the semihosting command line, which
 * QEMU builds from -semihosting-config ...,arg=seed=0x5,arg=...  The same
 * "key=value" words, parsed by the core's params.c, as fw_cfg gives the x86 labs.
 */
#include <kit/kit.h>
#include "lab06.h"
#include "../kernel/core.h"

void params_init(void)
{
    static char text[1024];
    struct {
        char *buf;
        u32 len;
    } block = {text, sizeof text - 1};
    if (semihost(SEMI_SYS_GET_CMDLINE, &block) != 0)
        text[0] = '\0';
    params_parse(text);
}
