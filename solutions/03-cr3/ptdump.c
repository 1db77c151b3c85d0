/*
 * Lab 03, part 3: the whole address space as merged ranges.
 */
#include <kit/kit.h>
#include <cr3.h>

/* The range being built, and where to send it once it cannot grow. */
struct dump {
    struct pt_range cur;
    bool open;
    pt_range_fn emit;
    void *ctx;
};

/* Extend the open range with one page, or close it and open a new one. */
static void add_page(struct dump *d, vaddr_t va, u64 size, pte_t rights)
{
    struct pt_range *r = &d->cur;
    if (d->open && r->end == va && r->page_size == size && r->rights == rights) {
        r->end += size;
        return;
    }
    if (d->open)
        d->emit(r, d->ctx);
    *r = (struct pt_range){.start = va, .end = va + size, .page_size = size, .rights = rights};
    d->open = true;
}

/* Combine the rights granted so far with entry e: W and U must be granted at
 * every level, NX at any level forbids execution. */
static pte_t combine(pte_t rights, pte_t e)
{
    return (rights & e & (PTE_W | PTE_U)) | ((rights | e) & PTE_NX);
}

/* Visit the present entries of a table of `level` that maps from base. */
static void walk_table(struct dump *d, pte_t *table, enum pt_level level, vaddr_t base,
                       pte_t rights)
{
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        pte_t e = table[i];
        if (!(e & PTE_P))
            continue;
        vaddr_t va = va_canonical(base + i * pt_span(level));
        pte_t r = combine(rights, e);
        if (pte_is_leaf(e, level))
            add_page(d, va, pt_span(level), r);
        else
            walk_table(d, pte_table(e), level - 1, va, r);
    }
}

void ptdump_walk(pt_range_fn emit, void *ctx)
{
    struct dump d = {.open = false, .emit = emit, .ctx = ctx};
    walk_table(&d, phys_to_virt(cr3_pml4()), PT_LEVEL_PML4, 0, PTE_W | PTE_U);
    if (d.open)
        emit(&d.cur, ctx);
}

/* ---- given: printing ------------------------------------------------------ */

static const char *page_size_name(u64 size)
{
    return size == HUGE_1G ? "1G" : size == HUGE_2M ? "2M" : "4K";
}

static void print_range(const struct pt_range *r, void *ctx)
{
    (void)ctx;
    kprintf("%016lx-%016lx %016lx %c%c%c%c %s\n", r->start, r->end, r->end - r->start,
            r->rights & PTE_U ? 'u' : '-', 'r', r->rights & PTE_W ? 'w' : '-',
            r->rights & PTE_NX ? '-' : 'x', page_size_name(r->page_size));
}

void ptdump(void) { ptdump_walk(print_range, NULL); }
