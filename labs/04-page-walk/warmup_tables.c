/*
 * Lab 4, Part A, kit side: load the tables the translators run on.
 *
 * The grader writes every table of a boot, with its queries, into one file
 * and passes it as the fw_cfg file "opt/kit/warmup". It is copied whole into
 * warmup_blob and used in place; the grader reads warmup_blob back (QEMU's
 * pmemsave, at the address the kernel ELF gives) to check nothing changed it.
 * All numbers are little-endian u32 words:
 *
 *   file:    WARMUP_MAGIC, record count, records
 *   record:  kind (enum warmup_kind), table bytes, query count,
 *            the table, then the queries as (pid, va) pairs
 *   table:   toy       the 16 entries, one byte each
 *            x86_32    CR3, then the simulated physical memory (mem[0] first)
 *            inverted  nframes, nbuckets, bucket[nbuckets] (IPT_NONE = -1),
 *                      then nframes struct ipt_entry (pid, vpn, next, used)
 *
 * Without the file (make qemu) the kit writes an example of each kind into
 * warmup_blob in the same layout, and reads it the same way.
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include "warmup_tables.h"

#define WARMUP_FILE       "opt/kit/warmup"
#define WARMUP_MAGIC      0x41503457u /* "W4PA" */
#define WARMUP_BLOB_MAX   KiB(256)
#define WARMUP_MAX_TABLES 16
#define X32_PAGE          (1u << X32_OFFSET_BITS)

static u8 warmup_blob[WARMUP_BLOB_MAX] __aligned(4096);
static struct warmup_table tables[WARMUP_MAX_TABLES];
static unsigned ntables;
static const char *source = "none";

/* ---- reading the file ---------------------------------------------------------- */

/* A cursor over the file: take() hands out the next `bytes`, or panics when
 * the file ends first. */
struct reader {
    const u8 *at, *end;
};

static const void *take(struct reader *r, u64 bytes, const char *what)
{
    if (bytes > (u64)(r->end - r->at))
        panic("warmup_tables_init: %s runs past the end of the table file", what);
    const void *p = r->at;
    r->at += bytes;
    return p;
}

static u32 take_u32(struct reader *r, const char *what)
{
    u32 v;
    memcpy(&v, take(r, sizeof v, what), sizeof v);
    return v;
}

/* The frame numbers of an inverted table's buckets and links: each IPT_NONE
 * or a frame of the table, so a correct walk never leaves it. */
static void check_links(const struct ipt_table *t)
{
    for (u32 h = 0; h < t->nbuckets; h++)
        if (t->bucket[h] < IPT_NONE || t->bucket[h] >= (int32_t)t->nframes)
            panic("warmup_tables_init: inverted table: bucket %u names frame %d", h, t->bucket[h]);
    for (u32 f = 0; f < t->nframes; f++)
        if (t->frame[f].next < IPT_NONE || t->frame[f].next >= (int32_t)t->nframes)
            panic("warmup_tables_init: inverted table: frame %u links to frame %d", f,
                  t->frame[f].next);
}

/* Point t at its table, `bytes` bytes at data, after checking its size. */
static void place_table(struct warmup_table *t, const u8 *data, u32 bytes)
{
    struct reader r = {data, data + bytes};
    switch (t->kind) {
    case WARMUP_TOY:
        if (bytes != sizeof(struct toy_table))
            panic("warmup_tables_init: a toy table of %u bytes (want %u)", bytes, TOY_ENTRIES);
        t->toy = (const struct toy_table *)data;
        return;
    case WARMUP_X86_32:
        t->x86_32.cr3 = take_u32(&r, "an x86_32 table's CR3");
        t->x86_32.mem = r.at;
        t->x86_32.mem_size = bytes - sizeof(u32);
        return;
    case WARMUP_INVERTED:
        t->ipt.nframes = take_u32(&r, "an inverted table's header");
        t->ipt.nbuckets = take_u32(&r, "an inverted table's header");
        if (t->ipt.nbuckets == 0 || t->ipt.nframes > INT32_MAX)
            panic("warmup_tables_init: an inverted table with %u buckets, %u frames",
                  t->ipt.nbuckets, t->ipt.nframes);
        t->ipt.bucket = take(&r, (u64)t->ipt.nbuckets * sizeof(int32_t), "an inverted table");
        t->ipt.frame = take(&r, (u64)t->ipt.nframes * sizeof(struct ipt_entry), "an inverted table");
        if (r.at != r.end)
            panic("warmup_tables_init: an inverted table with %lu bytes left over",
                  (u64)(r.end - r.at));
        check_links(&t->ipt);
        return;
    }
    panic("warmup_tables_init: a record of unknown kind %u", (unsigned)t->kind);
}

/* Read the records of the file held in warmup_blob (size bytes). */
static void read_records(u32 size)
{
    struct reader r = {warmup_blob, warmup_blob + size};
    if (take_u32(&r, "the header") != WARMUP_MAGIC)
        panic("warmup_tables_init: %s is not a table file (no magic number)", WARMUP_FILE);
    u32 n = take_u32(&r, "the header");
    if (n > WARMUP_MAX_TABLES)
        panic("warmup_tables_init: %u tables, more than the %u the kit keeps", n,
              WARMUP_MAX_TABLES);
    for (u32 i = 0; i < n; i++) {
        struct warmup_table *t = &tables[i];
        t->kind = take_u32(&r, "a record's header");
        u32 bytes = take_u32(&r, "a record's header");
        t->nqueries = take_u32(&r, "a record's header");
        place_table(t, take(&r, bytes, "a table"), bytes);
        t->query = take(&r, (u64)t->nqueries * sizeof *t->query, "a table's queries");
    }
    if (r.at != r.end)
        panic("warmup_tables_init: %lu bytes after the last table", (u64)(r.end - r.at));
    ntables = n;
}

/* ---- the examples (no file) --------------------------------------------------- */

/* Append a record at *at: its table area (`bytes`, zeroed) is returned for the
 * caller to fill; the queries follow it. */
static u8 *add_record(u8 **at, enum warmup_kind kind, u32 bytes, const struct warmup_query *q,
                      u32 n)
{
    u32 head[3] = {kind, bytes, n};
    memcpy(*at, head, sizeof head);
    u8 *table = *at + sizeof head;
    memset(table, 0, bytes);
    memcpy(table + bytes, q, n * sizeof *q);
    *at = table + bytes + n * sizeof *q;
    return table;
}

static void put_u32(u8 *p, u32 v)
{
    memcpy(p, &v, sizeof v);
}

/* toy 0: the handout's worked example (entry 2 = 1101) and a few more entries;
 * entry 3 = 1100 has a frame number but no P. */
static void example_toy(u8 **at)
{
    static const u8 entries[TOY_ENTRIES] = {[0] = 0x3, [2] = 0xd, [3] = 0xc, [7] = 0xf, [15] = 0x9};
    static const struct warmup_query q[] = {{0, 0x2004}, {0, 0x3004}, {0, 0x0abc},
                                            {0, 0x7fff}, {0, 0xf123}, {0, 0x1000}};
    memcpy(add_record(at, WARMUP_TOY, TOY_ENTRIES, q, ARRAY_SIZE(q)), entries, TOY_ENTRIES);
}

/* x86_32 0: three pages of memory; the directory at 0x1000 (CR3), a page table
 * at 0x2000. Directory entry 0: that table; 1: a 4 MiB page at 12 MiB;
 * 2: not present (a PS bit and a frame left behind). Table entry 1 maps
 * 0x0abcd000; entry 2 is not present. */
static void example_x86_32(u8 **at)
{
    static const struct warmup_query q[] = {{0, 0x1234},   {0, 0x2345},   {0, 0x0},
                                            {0, 0x412345}, {0, 0x812345}, {0, 0xffc00000}};
    u8 *t = add_record(at, WARMUP_X86_32, sizeof(u32) + 3 * X32_PAGE, q, ARRAY_SIZE(q));
    u8 *mem = t + sizeof(u32);
    put_u32(t, 0x1000);
    put_u32(mem + 0x1000 + 0 * X32_ENTRY_SIZE, 0x2000 | X32_P | X32_W | X32_U);
    put_u32(mem + 0x1000 + 1 * X32_ENTRY_SIZE, 0x00c00000 | X32_PS | X32_P | X32_W);
    put_u32(mem + 0x1000 + 2 * X32_ENTRY_SIZE, 0x00400000 | X32_PS);
    put_u32(mem + 0x2000 + 1 * X32_ENTRY_SIZE, 0x0abcd000 | X32_P | X32_W);
    put_u32(mem + 0x2000 + 2 * X32_ENTRY_SIZE, 0x12345000 | X32_W | X32_U);
}

/* inverted 0: 16 frames, 4 buckets. Pid 1 and pid 2 both map page 0x10;
 * frame 5 is free but still in a chain, with pid 2 and page 0x20. */
static void example_inverted(u8 **at)
{
    enum { FRAMES = 16, BUCKETS = 4 };
    static const struct { u32 frame, pid, vpn, used; } keys[] = {
        {3, 1, 0x10, 1}, {7, 2, 0x10, 1}, {9, 1, 0x11, 1}, {12, 1, 0x400, 1}, {5, 2, 0x20, 0}};
    static const struct warmup_query q[] = {{1, 0x10abc}, {2, 0x10abc}, {3, 0x10abc},
                                            {1, 0x11000}, {2, 0x20fff}, {1, 0x400123}};
    u32 bytes = 2 * sizeof(u32) + BUCKETS * sizeof(int32_t) + FRAMES * sizeof(struct ipt_entry);
    u8 *t = add_record(at, WARMUP_INVERTED, bytes, q, ARRAY_SIZE(q));
    int32_t *bucket = (int32_t *)(t + 2 * sizeof(u32));
    struct ipt_entry *frame = (struct ipt_entry *)(bucket + BUCKETS);
    put_u32(t, FRAMES);
    put_u32(t + sizeof(u32), BUCKETS);
    for (int h = 0; h < BUCKETS; h++)
        bucket[h] = IPT_NONE;
    for (int f = 0; f < FRAMES; f++)
        frame[f].next = IPT_NONE;
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) { /* each on the head of its chain */
        u32 h = ipt_hash(keys[i].pid, keys[i].vpn, BUCKETS);
        frame[keys[i].frame] = (struct ipt_entry){keys[i].pid, keys[i].vpn, bucket[h], keys[i].used};
        bucket[h] = keys[i].frame;
    }
}

/* Write the examples into warmup_blob as a table file; return its size. */
static u32 write_examples(void)
{
    u8 *at = warmup_blob;
    put_u32(at, WARMUP_MAGIC);
    put_u32(at + sizeof(u32), 3);
    at += 2 * sizeof(u32);
    example_toy(&at);
    example_x86_32(&at);
    example_inverted(&at);
    return at - warmup_blob;
}

/* ---- the interface ------------------------------------------------------------- */

void warmup_tables_init(void)
{
    u32 size;
    if (fw_cfg_file(WARMUP_FILE, warmup_blob, sizeof warmup_blob, &size)) {
        if (size > sizeof warmup_blob)
            panic("warmup_tables_init: %s holds %u bytes, more than the %lu the kit has room for",
                  WARMUP_FILE, size, sizeof warmup_blob);
        source = "fw_cfg " WARMUP_FILE;
    } else {
        size = write_examples();
        source = "built-in examples";
    }
    read_records(size);
}

const struct warmup_table *warmup_table(enum warmup_kind kind, unsigned index)
{
    for (unsigned i = 0; i < ntables; i++)
        if (tables[i].kind == kind && index-- == 0)
            return &tables[i];
    return NULL;
}

const char *warmup_source(void)
{
    return source;
}
