/*
 * Lab 03's monitor commands. Each prints what the student's functions return
 * in a fixed format the handout documents (and the grader parses); none of
 * them computes an answer itself.
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <cr3.h>
#include <fixtures.h>

static int cmd_cr3(int argc, char **argv)
{
    u64 flags = cr3_flags();
    kprintf("cr3 pml4 0x%lx flags 0x%lx%s%s\n", cr3_pml4(), flags, flags & CR3_PWT ? " PWT" : "",
            flags & CR3_PCD ? " PCD" : "");
    return 0;
}
MONITOR_COMMAND(cr3, "cr3                  the PML4's physical address and CR3's PWT/PCD bits", cmd_cr3);

static int cmd_p2v(int argc, char **argv)
{
    u64 pa;
    if (!monitor_arg_u64(argc, argv, 1, &pa))
        return 1;
    volatile u64 *va = phys_to_virt(pa);
    kprintf("p2v 0x%lx 0x%lx", pa, (vaddr_t)va);
    kprintf(" 0x%lx\n", *va); /* a bad address faults here, after it was printed */
    return 0;
}
MONITOR_COMMAND(p2v, "p2v PA               phys_to_virt(PA) and the u64 read through it", cmd_p2v);

/* "pml4[idx] RAW decoded" for each present entry of the current PML4. */
static int cmd_pml4(int argc, char **argv)
{
    pte_t *pml4 = phys_to_virt(cr3_pml4());
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        pte_t e = pml4[i];
        if (!(e & PTE_P))
            continue;
        kprintf("pml4[%3u] 0x%016lx ", i, e);
        pte_print(e, PT_LEVEL_PML4);
        kprintf("\n");
    }
    return 0;
}
MONITOR_COMMAND(pml4, "pml4                 the present entries of the PML4, decoded", cmd_pml4);

/* One line per table read for VA: "LEVEL TABLE_PA[idx] RAW decoded". */
static int cmd_walk(int argc, char **argv)
{
    u64 va;
    struct pt_step steps[PT_LEVEL_PML4];
    if (!monitor_arg_u64(argc, argv, 1, &va))
        return 1;
    int n = pt_chain(va, steps);
    for (int i = 0; i < n; i++) {
        kprintf("%-4s 0x%lx[%3u] 0x%016lx ", pt_level_name(steps[i].level), steps[i].table,
                steps[i].index, steps[i].entry);
        pte_print(steps[i].entry, steps[i].level);
        kprintf("\n");
    }
    return 0;
}
MONITOR_COMMAND(walk, "walk VA              the chain of entries from the PML4 to VA's leaf", cmd_walk);

static int cmd_ptdump(int argc, char **argv)
{
    ptdump();
    return 0;
}
MONITOR_COMMAND(ptdump, "ptdump               every mapped range: size, rights (urwx), page size", cmd_ptdump);

static int cmd_recursive(int argc, char **argv)
{
    u64 slot;
    if (!monitor_arg_u64(argc, argv, 1, &slot))
        return 1;
    if (slot > 0xffffffffu) { /* recursive_install itself refuses 512 and up */
        kprintf("recursive: slot %lu out of range\n", slot);
        return 1;
    }
    recursive_install((unsigned)slot);
    kprintf("recursive slot %d\n", recursive_slot());
    return 0;
}
MONITOR_COMMAND(recursive, "recursive SLOT       install the recursive entry PML4[SLOT]", cmd_recursive);

/* One line per level, read through the recursive slot:
 * "LEVEL table TABLE_VA entry ENTRY_VA RAW decoded". */
static int cmd_rwalk(int argc, char **argv)
{
    u64 va;
    if (!monitor_arg_u64(argc, argv, 1, &va))
        return 1;
    if (recursive_slot() < 0) {
        kprintf("rwalk: no recursive slot; run recursive SLOT first\n");
        return 1;
    }
    for (int level = PT_LEVEL_PML4; level >= PT_LEVEL_PT; level--) {
        pte_t *table = recursive_table(va, level), *p = recursive_pte(va, level);
        kprintf("%-4s table 0x%lx entry 0x%lx ", pt_level_name(level), (vaddr_t)table, (vaddr_t)p);
        pte_t e = *p; /* a wrong address faults here, after it was printed */
        kprintf("0x%016lx ", e);
        pte_print(e, level);
        kprintf("\n");
        if (!(e & PTE_P) || pte_is_leaf(e, level))
            break;
    }
    return 0;
}
MONITOR_COMMAND(rwalk, "rwalk VA             VA's chain of entries read through the recursive slot", cmd_rwalk);

static int cmd_fixtures(int argc, char **argv)
{
    fixtures_print();
    return 0;
}
MONITOR_COMMAND(fixtures, "fixtures             the fixture mappings placed at boot (name VA PA size leaf upper)", cmd_fixtures);
