/*
 * The Part A test driver (kit side, not edited by students). It loads one
 * table from a file, then answers one query per line of standard input:
 *
 *   warmup toy FILE          FILE: 16 entries in hex       query: VA
 *   warmup x86_32 FILE CR3   FILE: raw physical memory     query: VA
 *   warmup inverted FILE     FILE: see load_inverted()     query: PID VA
 *
 * Each answer is one line: the physical address in hex, or "fault".
 * Build: gcc -I labs/04-page-walk/warmup driver.c toy.c x86_32.c inverted.c
 */
#include <string.h>
#include "warmup.h"

#define MAX_FRAMES  65536
#define MAX_BUCKETS 65536
#define MAX_MEM     (64u << 20)

static __attribute__((noreturn)) void die(const char *what)
{
    fprintf(stderr, "warmup: %s\n", what);
    exit(2);
}

static FILE *open_or_die(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open the table file");
    return f;
}

static void answer(bool mapped, uint32_t pa)
{
    if (mapped)
        printf("0x%x\n", pa);
    else
        printf("fault\n");
    fflush(stdout);
}

static void run_toy(const char *path)
{
    static struct toy_table t;
    FILE *f = open_or_die(path);
    for (unsigned i = 0; i < TOY_ENTRIES; i++) {
        unsigned e;
        if (fscanf(f, "%x", &e) != 1)
            die("toy: need 16 entries");
        t.entry[i] = (uint8_t)e;
    }
    fclose(f);
    unsigned va;
    while (scanf("%x", &va) == 1) {
        uint32_t pa = 0;
        bool ok = toy_translate(&t, va, &pa);
        answer(ok, pa);
    }
}

static void run_x86_32(const char *path, const char *cr3)
{
    static uint8_t mem[MAX_MEM];
    FILE *f = open_or_die(path);
    struct x86_32_table t = {mem, (uint32_t)fread(mem, 1, MAX_MEM, f), 0};
    fclose(f);
    t.cr3 = (uint32_t)strtoul(cr3, NULL, 0);
    unsigned va;
    while (scanf("%x", &va) == 1) {
        uint32_t pa = 0;
        bool ok = x86_32_translate(&t, va, &pa);
        answer(ok, pa);
    }
}

/* FILE: "NFRAMES NBUCKETS", then NBUCKETS chain heads, then NFRAMES lines of
 * "USED PID VPN NEXT" (decimal; -1 is IPT_NONE). */
static void run_inverted(const char *path)
{
    static struct ipt_entry frames[MAX_FRAMES];
    static int32_t buckets[MAX_BUCKETS];
    struct ipt_table t = {frames, 0, buckets, 0};
    FILE *f = open_or_die(path);
    if (fscanf(f, "%u %u", &t.nframes, &t.nbuckets) != 2 || t.nframes > MAX_FRAMES ||
        t.nbuckets > MAX_BUCKETS || t.nbuckets == 0)
        die("inverted: bad header");
    for (uint32_t h = 0; h < t.nbuckets; h++)
        if (fscanf(f, "%d", &buckets[h]) != 1)
            die("inverted: short bucket list");
    for (uint32_t i = 0; i < t.nframes; i++)
        if (fscanf(f, "%u %u %u %d", &frames[i].used, &frames[i].pid, &frames[i].vpn,
                   &frames[i].next) != 4)
            die("inverted: short frame list");
    fclose(f);
    unsigned pid, va;
    while (scanf("%u %x", &pid, &va) == 2) {
        uint32_t pa = 0;
        bool ok = ipt_translate(&t, pid, va, &pa);
        answer(ok, pa);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "toy"))
        run_toy(argv[2]);
    else if (argc == 4 && !strcmp(argv[1], "x86_32"))
        run_x86_32(argv[2], argv[3]);
    else if (argc == 3 && !strcmp(argv[1], "inverted"))
        run_inverted(argv[2]);
    else
        die("usage: warmup toy FILE | x86_32 FILE CR3 | inverted FILE  (queries on stdin)");
    return 0;
}
