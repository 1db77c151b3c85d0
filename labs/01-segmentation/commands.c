/*
 * Lab 1's inspection commands: encode a descriptor with the student's
 * seg_encode, dump the live GDT (whatever GDTR points at) and the TSS.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <kit/x86.h>
#include <gdt.h>
#include "lab01.h"

#define DESC_LIMIT_HI(d) (((d) >> 48) & 0xf)
#define DESC_ACCESS(d)   ((u8)((d) >> 40))
#define DESC_FLAGS(d)    ((u8)(((d) >> 52) & 0xf))
#define DESC_TYPE(d)     (DESC_ACCESS(d) & SEG_ACC_TYPE_MASK)
#define DESC_DPL(d)      ((DESC_ACCESS(d) >> SEG_ACC_BIT_DPL) & 3)

static u32 desc_base(u64 d) { return ((d >> 16) & 0xffffff) | ((d >> 56) << 24); }
static u32 desc_limit(u64 d) { return (d & 0xffff) | (DESC_LIMIT_HI(d) << 16); }

/* A limit or flags too wide for the descriptor goes to seg_encode as it is
 * (up to the parameter's C type): refusing it is seg_encode's job. */
int cmd_encode(int argc, char **argv)
{
    u64 base, limit, access, flags;
    if (!monitor_arg_u64(argc, argv, 1, &base) || !monitor_arg_u64(argc, argv, 2, &limit) ||
        !monitor_arg_u64(argc, argv, 3, &access) || !monitor_arg_u64(argc, argv, 4, &flags))
        return 1;
    if (base > 0xffffffffull || limit > 0xffffffffull || access > 0xff || flags > 0xff) {
        kprintf("encode: base and limit are u32, access and flags u8\n");
        return 1;
    }
    kprintf("0x%016lx\n", seg_encode((u32)base, (u32)limit, (u8)access, (u8)flags));
    return 0;
}
MONITOR_COMMAND(encode, "encode BASE LIMIT ACCESS FLAGS  print seg_encode's descriptor", cmd_encode);

/* sysdesc_encode into a buffer; an access byte with S set goes through, for
 * sysdesc_encode to refuse. */
int cmd_sysencode(int argc, char **argv)
{
    u64 base, limit, access, desc[2] = {0, 0};
    if (!monitor_arg_u64(argc, argv, 1, &base) || !monitor_arg_u64(argc, argv, 2, &limit) ||
        !monitor_arg_u64(argc, argv, 3, &access))
        return 1;
    if (limit > 0xffffffffull || access > 0xff) {
        kprintf("sysencode: base is u64, limit u32, access u8\n");
        return 1;
    }
    sysdesc_encode(desc, base, (u32)limit, (u8)access);
    kprintf("0x%016lx 0x%016lx\n", desc[0], desc[1]);
    return 0;
}
MONITOR_COMMAND(sysencode, "sysencode BASE LIMIT ACCESS  print sysdesc_encode's 16 bytes", cmd_sysencode);

/* "code64 R", "data W", ... for a code/data descriptor. */
static void print_code_data(u64 d)
{
    u8 acc = DESC_ACCESS(d), fl = DESC_FLAGS(d);
    bool code = acc & SEG_ACC_CODE;
    const char *kind = !code ? "data" : (fl & SEG_FLAG_L) ? "code64" : (fl & SEG_FLAG_DB) ? "code32" : "code16";
    kprintf("%-6s %s%s%s base 0x%08x limit 0x%05x%s", kind,
            code ? ((acc & SEG_ACC_RW) ? "R" : "-") : ((acc & SEG_ACC_RW) ? "W" : "-"),
            (acc & SEG_ACC_DC) ? (code ? "C" : "E") : "-", (acc & SEG_ACC_A) ? "A" : "-",
            desc_base(d), desc_limit(d), (fl & SEG_FLAG_G) ? " G(4K)" : "");
}

int gdt_print_slot(const u64 *table, unsigned index, unsigned count)
{
    u64 d = table[index];
    int used = 1;
    kprintf("  %02u 0x%02x  0x%016lx  ", index, index << SEL_INDEX_SHIFT, d);
    if (d == 0) {
        kprintf("null\n");
        return 1;
    }
    kprintf("%s DPL%u ", (DESC_ACCESS(d) & SEG_ACC_P) ? "P" : "not-present", DESC_DPL(d));
    if (DESC_ACCESS(d) & SEG_ACC_S) {
        print_code_data(d);
    } else if (index + 1 < count) {
        u64 hi = table[index + 1];
        used = 2;
        if (DESC_TYPE(d) == SYS_TYPE_CALL_GATE)
            kprintf("call gate -> 0x%04lx:0x%016lx", (d >> 16) & 0xffff,
                    (d & 0xffff) | (((d >> 48) & 0xffff) << 16) | (hi << 32));
        else
            kprintf("system type 0x%x%s base 0x%016lx limit 0x%05x", DESC_TYPE(d),
                    DESC_TYPE(d) == SYS_TYPE_TSS_BUSY    ? " (TSS busy)"
                    : DESC_TYPE(d) == SYS_TYPE_TSS_AVAIL ? " (TSS)"
                                                         : "",
                    (u64)desc_base(d) | (hi << 32), desc_limit(d));
        kprintf("\n  %02u       0x%016lx  (upper half)", index + 1, hi);
    } else {
        kprintf("system type 0x%x, cut off by the limit", DESC_TYPE(d));
    }
    kprintf("\n");
    return used;
}

static int cmd_gdt(int argc, char **argv)
{
    struct dtr d;
    sgdt(&d);
    unsigned count = (d.limit + 1u) / 8;
    kprintf("GDTR base 0x%016lx limit 0x%04x (%u slots)\n", d.base, d.limit, count);
    for (unsigned i = 0; i < count;)
        i += gdt_print_slot((const u64 *)d.base, i, count);
    return 0;
}
MONITOR_COMMAND(gdt, "gdt                  dump the GDT that GDTR points at", cmd_gdt);

static int cmd_tss(int argc, char **argv)
{
    u16 tr;
    __asm__ volatile("str %0" : "=r"(tr));
    kprintf("TR 0x%04x, tss at %p\n", tr, &tss);
    kprintf("  rsp0 0x%016lx  rsp1 0x%016lx  rsp2 0x%016lx\n", tss.rsp[0], tss.rsp[1], tss.rsp[2]);
    for (int k = 1; k < 8; k++)
        kprintf("  ist%d 0x%016lx%s", k, tss.ist[k], (k % 3 == 0) ? "\n" : "");
    kprintf("\n  iomap_base 0x%x\n", tss.iomap_base);
    return 0;
}
MONITOR_COMMAND(tss, "tss                  dump TR and the TSS's stacks", cmd_tss);
