/*
 * Lab 4 kernel: the core's address space plus Lab 3's fixtures (mappings of
 * every page size and mixed rights at addresses the grader picks per boot,
 * see labs/03-cr3/include/fixtures.h), explored with the `translate` and
 * `split` monitor commands (cmd_translate.c); and Part A's tables
 * (warmup_tables.c), explored with `warmup`, `toy`, `x86_32` and `inverted`
 * (cmd_warmup.c).
 *
 * Parameters: fix0..fix7 (fixtures.h), and leftover=SLOT:VALUE, which stores
 * VALUE in the empty PML4 slot SLOT with P clear: a non-present entry whose
 * other bits are not zero, as an OS leaves behind (swap slots, old frames).
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/monitor.h>
#include <kit/pte.h>
#include <fixtures.h>
#include "warmup_tables.h"

const char lab_name[] = "04-page-walk";

/* Place the `leftover` parameter's entry; panics on a bad or used slot. */
static void place_leftover(void)
{
    const char *p = kit_param("leftover");
    if (!p)
        return;
    char slot_text[8];
    size_t n = 0;
    while (p[n] && p[n] != ':' && n + 1 < sizeof slot_text) {
        slot_text[n] = p[n];
        n++;
    }
    slot_text[n] = '\0';
    u64 slot, value;
    if (p[n] != ':' || !parse_u64(slot_text, &slot) || !parse_u64(p + n + 1, &value) ||
        slot >= PT_ENTRIES)
        panic("leftover: cannot parse '%s' (want SLOT:VALUE)", p);
    if (kernel_pml4[slot])
        panic("leftover: PML4 slot %lu is in use", slot);
    kernel_pml4[slot] = value & ~PTE_P;
}

void lab_main(void)
{
    int n = fixtures_init();
    place_leftover();
    warmup_tables_init();
    kprintf("lab: %d fixture%s placed; try translate 0xb8000, split 0xffffffff80200000, "
            "fixtures; Part A: warmup, toy 0\n", n, n == 1 ? "" : "s");
}

static int cmd_fixtures(int argc, char **argv)
{
    fixtures_print();
    return 0;
}
MONITOR_COMMAND(fixtures, "fixtures             list the fixture mappings: NAME VA PA SIZE LEAF UPPER",
                cmd_fixtures);
