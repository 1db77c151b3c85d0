/*
 * Lab 4, Part A, kit side: the tables the Part A translators run on, and the
 * queries that come with them.
 *
 * The grader passes them in the QEMU fw_cfg file "opt/kit/warmup" (see
 * warmup_tables.c for its layout); without that file (make qemu) the kit
 * builds a small example of each kind, the tables the handout describes.
 * The tables are read-only to the translators: the grader compares them, byte
 * for byte, with the file it wrote once the translators have run.
 */
#ifndef LAB04_WARMUP_TABLES_H
#define LAB04_WARMUP_TABLES_H

#include <warmup.h>

enum warmup_kind { WARMUP_TOY = 1, WARMUP_X86_32 = 2, WARMUP_INVERTED = 3 };

/* One question for a translator: pid is used by the inverted table only. */
struct warmup_query {
    uint32_t pid;
    uint32_t va;
};

struct warmup_table {
    enum warmup_kind kind;
    union {
        const struct toy_table *toy;
        struct x86_32_table x86_32;
        struct ipt_table ipt;
    };
    const struct warmup_query *query; /* the queries that came with the table */
    uint32_t nqueries;
};

/* Load the grader's tables, or build the examples; panics on a malformed file. */
void warmup_tables_init(void);

/* The index-th table of a kind (0, 1, ...), or NULL when there is none. */
const struct warmup_table *warmup_table(enum warmup_kind kind, unsigned index);

/* Where the tables came from: "fw_cfg opt/kit/warmup" or "built-in examples". */
const char *warmup_source(void);

#endif
