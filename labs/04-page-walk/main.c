/*
 * Lab 4 kernel: the core's address space plus Lab 3's fixtures (mappings of
 * every page size and mixed rights at addresses the grader picks per boot,
 * see labs/03-cr3/include/fixtures.h), explored with the `translate` and
 * `split` monitor commands (cmd_translate.c).
 */
#include <kit/kit.h>
#include <kit/monitor.h>
#include <fixtures.h>

const char lab_name[] = "04-page-walk";

void lab_main(void)
{
    int n = fixtures_init();
    kprintf("lab: %d fixture%s placed; try translate 0xb8000, split 0xffffffff80200000, "
            "fixtures\n", n, n == 1 ? "" : "s");
}

static int cmd_fixtures(int argc, char **argv)
{
    fixtures_print();
    return 0;
}
MONITOR_COMMAND(fixtures, "fixtures             list the fixture mappings: NAME VA PA SIZE LEAF UPPER",
                cmd_fixtures);
