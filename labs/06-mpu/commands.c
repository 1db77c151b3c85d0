/*
 * Lab 6's monitor commands: encode and program regions with the student's
 * functions, show what the MPU holds, and run accesses privileged (kern)
 * or unprivileged (user). `help` lists them.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <mpu.h>
#include "lab06.h"

static const char *const ap_names[] = {"none/none", "RW/none", "RW/RO", "RW/RW",
                                       "reserved",  "RO/none", "RO/RO", "RO/RO"};

const char *ap_name(u32 ap) { return ap_names[ap & 7]; }

/* Parse "BASE SIZE AP XN [SRD]" from argv[i..] into r; false (usage printed) on junk. */
static bool parse_region(int argc, char **argv, int i, struct mpu_region *r)
{
    u64 base, size, ap, xn, srd = 0;
    if (!monitor_arg_u64(argc, argv, i, &base) || !monitor_arg_u64(argc, argv, i + 1, &size) ||
        !monitor_arg_u64(argc, argv, i + 2, &ap) || !monitor_arg_u64(argc, argv, i + 3, &xn))
        return false;
    if (argc > i + 4 && !monitor_arg_u64(argc, argv, i + 4, &srd))
        return false;
    if (base > 0xffffffffu || size > 0x80000000u || ap > 0xff || srd > 0xff) {
        kprintf("out of range\n");
        return false;
    }
    *r = (struct mpu_region){.base = (u32)base, .size = (u32)size, .ap = (u8)ap,
                             .srd = (u8)srd, .xn = xn != 0};
    return true;
}

static int cmd_encode(int argc, char **argv)
{
    struct mpu_region r;
    u32 rbar = 0, rasr = 0;
    if (!parse_region(argc, argv, 1, &r))
        return 1;
    if (!mpu_encode(&r, &rbar, &rasr)) {
        kprintf("refused\n");
        return 1;
    }
    kprintf("rbar 0x%08x rasr 0x%08x\n", X32(rbar), X32(rasr));
    return 0;
}
MONITOR_COMMAND(encode, "encode BASE SIZE AP XN [SRD]  RBAR and RASR for a region (mpu_encode)",
                cmd_encode);

static int cmd_region(int argc, char **argv)
{
    u64 n;
    struct mpu_region r;
    if (!monitor_arg_u64(argc, argv, 1, &n))
        return 1;
    if (argc == 3 && strcmp(argv[2], "off") == 0) {
        int err = mpu_region_clear((u32)n);
        kprintf("region %u: %s\n", X32(n), err ? "refused" : "off");
        return err ? 1 : 0;
    }
    if (!parse_region(argc, argv, 2, &r))
        return 1;
    int err = mpu_region_set((u32)n, &r);
    kprintf("region %u: %s\n", X32(n), err ? "refused" : "set");
    return err ? 1 : 0;
}
MONITOR_COMMAND(region, "region N BASE SIZE AP XN [SRD] | region N off  program region N",
                cmd_region);

/* The kit's two regions: the jobs' code (read-only, executable) and their
 * data and stack (read-write, execute-never). */
static void kit_regions(void)
{
    struct mpu_region text = {.base = (u32)__user_text_start,
                              .size = (u32)(__user_text_end - __user_text_start),
                              .ap = MPU_AP_RO};
    struct mpu_region data = {.base = (u32)__user_data_start,
                              .size = (u32)(__user_data_end - __user_data_start),
                              .ap = MPU_AP_RW, .xn = true};
    if (mpu_region_set(KIT_REGION_USER_TEXT, &text) || mpu_region_set(KIT_REGION_USER_DATA, &data))
        panic("mpu_region_set refused the kit's user regions");
}

/* Print every region as the hardware holds it; RNR is left as it was. */
static void mpu_dump(void)
{
    u32 ctrl = MPU_CTRL, saved = MPU_RNR;
    u32 n = (MPU_TYPE & MPU_TYPE_DREGION_MASK) >> MPU_TYPE_DREGION_SHIFT;
    kprintf("MPU %s%s, %u regions\n", ctrl & MPU_CTRL_ENABLE ? "on" : "off",
            ctrl & MPU_CTRL_PRIVDEFENA ? " + background map (privileged)" : "", X32(n));
    for (u32 i = 0; i < n; i++) {
        MPU_RNR = i;
        u32 rbar = MPU_RBAR, rasr = MPU_RASR;
        if (!(rasr & MPU_RASR_ENABLE))
            continue;
        u32 log2 = ((rasr & MPU_RASR_SIZE_MASK) >> MPU_RASR_SIZE_SHIFT) + 1;
        u32 ap = (rasr & MPU_RASR_AP_MASK) >> MPU_RASR_AP_SHIFT;
        kprintf("  %u: 0x%08x 2^%u bytes %-9s %s srd 0x%02x (rbar 0x%08x rasr 0x%08x)\n", X32(i),
                X32(rbar & MPU_RBAR_ADDR_MASK), X32(log2), ap_name(ap),
                rasr & MPU_RASR_XN ? "XN  " : "exec", X32((rasr & MPU_RASR_SRD_MASK) >> MPU_RASR_SRD_SHIFT),
                X32(rbar), X32(rasr));
    }
    MPU_RNR = saved;
}

static int cmd_mpu(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "on") == 0) {
        kit_regions();
        mpu_enable(true);
        kprintf("mpu: on (region 0 user code, region 1 user data)\n");
    } else if (argc > 1 && strcmp(argv[1], "off") == 0) {
        mpu_disable();
        kprintf("mpu: off\n");
    } else if (argc > 1) {
        kprintf("usage: mpu [on|off]\n");
        return 1;
    } else {
        mpu_dump();
    }
    return 0;
}
MONITOR_COMMAND(mpu, "mpu [on|off]         show the regions, or enable (with the kit's regions 0-1)",
                cmd_mpu);

/* For QEMU's monitor: RBAR and RASR show the region RNR selects. */
static int cmd_select(int argc, char **argv)
{
    u64 n;
    if (!monitor_arg_u64(argc, argv, 1, &n))
        return 1;
    MPU_RNR = (u32)n;
    kprintf("rnr %u\n", X32(MPU_RNR));
    return 0;
}
MONITOR_COMMAND(select, "select N             RNR = N (then QEMU's `xp /2wx 0xE000ED9C`)",
                cmd_select);

/* user|kern read ADDR | write ADDR VALUE | exec ADDR */
static int access(int argc, char **argv, bool user)
{
    u64 addr, value = 0;
    enum user_op op;
    if (!monitor_arg_u64(argc, argv, 2, &addr)) /* prints the usage: `kern write` alone */
        return 1;
    if (strcmp(argv[1], "read") == 0)
        op = USER_READ;
    else if (strcmp(argv[1], "exec") == 0)
        op = USER_EXEC;
    else if (strcmp(argv[1], "stack") == 0 && user)
        op = USER_STACK;
    else if (strcmp(argv[1], "write") == 0 && monitor_arg_u64(argc, argv, 3, &value))
        op = USER_WRITE;
    else {
        kprintf("usage: %s read ADDR | write ADDR VALUE | exec ADDR%s\n", argv[0],
                user ? " | stack ADDR" : "");
        return 1;
    }
    u32 r = user ? user_run(op, (u32)addr, (u32)value) : kern_run(op, (u32)addr, (u32)value);
    kprintf("%s %s 0x%08x %s 0x%08x\n", argv[0], argv[1], X32(addr), op == USER_WRITE ? "<-" : "->",
            X32(r));
    return 0;
}

static int cmd_user(int argc, char **argv) { return access(argc, argv, true); }
MONITOR_COMMAND(user, "user read A | write A V | exec A | stack A   the access, unprivileged",
                cmd_user);

/* kern probe ADDR: a privileged read that survives a bus error (start.S
 * kit_probe); the error's flags stay in CFSR's BFSR byte. */
static int probe(u32 addr)
{
    u32 word = 0;
    SCB_SHCSR |= SHCSR_BUSFAULTENA;
    dsb();
    isb();
    bool ok = kit_probe(addr, &word);
    SCB_SHCSR &= ~SHCSR_BUSFAULTENA;
    if (ok)
        kprintf("kern probe 0x%08x -> 0x%08x\n", X32(addr), X32(word));
    else
        kprintf("kern probe 0x%08x: bus error (CFSR 0x%08x)\n", X32(addr), X32(SCB_CFSR));
    return ok ? 0 : 1;
}

static int cmd_kern(int argc, char **argv)
{
    u64 addr;
    if (argc == 3 && strcmp(argv[1], "probe") == 0 && monitor_arg_u64(argc, argv, 2, &addr))
        return probe((u32)addr);
    return access(argc, argv, false);
}
MONITOR_COMMAND(kern, "kern read A | write A V | exec A | probe A   the access, privileged",
                cmd_kern);
