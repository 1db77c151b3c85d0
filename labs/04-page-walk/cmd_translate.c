/*
 * Monitor commands of Lab 4: they print what the student's walk.c computes,
 * one line per address, in a form both people and the grader read:
 *
 *   translate 0xb8000  ->  0xb8000 -> pa=0xb8000 size=4K w=1 u=0 nx=1 level=1
 *                          0x1234  -> not-mapped level=1
 *                          0x800000000000 -> non-canonical
 *   split 0xb8000      ->  0xb8000 -> l4=0 l3=0 l2=0 l1=184 offset=0x0 canonical=1
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <walk.h>

/* "4K", "2M", "1G", or "?" for a size translate() must never return. */
static const char *size_name(u64 size)
{
    switch (size) {
    case PAGE_SIZE: return "4K";
    case HUGE_2M: return "2M";
    case HUGE_1G: return "1G";
    default: return "?";
    }
}

static void print_translation(vaddr_t va, const struct translation *t)
{
    switch (t->status) {
    case TR_OK:
        kprintf("0x%lx -> pa=0x%lx size=%s w=%d u=%d nx=%d level=%d\n", va, t->pa,
                size_name(t->page_size), t->writable, t->user, t->nx, t->level);
        break;
    case TR_NOT_MAPPED:
        kprintf("0x%lx -> not-mapped level=%d\n", va, t->level);
        break;
    case TR_NONCANONICAL:
        kprintf("0x%lx -> non-canonical\n", va);
        break;
    default:
        kprintf("0x%lx -> bad-status %d\n", va, (int)t->status);
    }
}

/* translate VA...: walk each address with translate() and print the result. */
static int cmd_translate(int argc, char **argv)
{
    if (argc < 2)
        return !monitor_arg_u64(argc, argv, 1, &(u64){0});
    for (int i = 1; i < argc; i++) {
        u64 va;
        if (!monitor_arg_u64(argc, argv, i, &va))
            return 1;
        struct translation t;
        memset(&t, 0xa5, sizeof t); /* garbage, so a field left unset shows */
        translate(va, &t);
        print_translation(va, &t);
    }
    return 0;
}
MONITOR_COMMAND(translate, "translate VA...      walk the page tables for each VA (Lab 4)",
                cmd_translate);

/* split VA...: print the table indices, the offset and canonical check of each VA. */
static int cmd_split(int argc, char **argv)
{
    if (argc < 2)
        return !monitor_arg_u64(argc, argv, 1, &(u64){0});
    for (int i = 1; i < argc; i++) {
        u64 va;
        if (!monitor_arg_u64(argc, argv, i, &va))
            return 1;
        kprintf("0x%lx -> l4=%u l3=%u l2=%u l1=%u offset=0x%lx canonical=%d\n", va,
                pt_index(va, PT_LEVEL_PML4), pt_index(va, PT_LEVEL_PDPT),
                pt_index(va, PT_LEVEL_PD), pt_index(va, PT_LEVEL_PT), page_offset(va),
                is_canonical(va));
    }
    return 0;
}
MONITOR_COMMAND(split, "split VA...          show the four table indices and the offset (Lab 4)",
                cmd_split);
