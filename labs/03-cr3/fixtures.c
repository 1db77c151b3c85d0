/*
 * Fixture mappings placed where the grader says (see fixtures.h). Simple,
 * specific code: one free PML4 slot per fixture, one static table per level
 * below it, exactly one entry set in each.
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/pte.h>
#include <kit/x86.h>
#include <fixtures.h>

#define FIELD_MAX   24 /* longest field: "0xffffffffffffffff" + slack */
#define FIELDS_MIN  4
#define FIELDS_MAX  5
#define RIGHTS_ALL  (PTE_W | PTE_U) /* and no NX */
#define INDEX_BITS  9                /* address bits per level */
#define VA_BITS     48               /* bits 63..48 copy bit 47 */

/* The tables of one fixture; a 1G fixture uses only pdpt, a 2M one pdpt and pd. */
struct fixture_tables {
    pte_t pdpt[PT_ENTRIES];
    pte_t pd[PT_ENTRIES];
    pte_t pt[PT_ENTRIES];
};

static struct fixture_tables pool[FIXTURES_MAX] __aligned(PAGE_SIZE);
static struct fixture placed[FIXTURES_MAX];
static int nplaced;

/* Index of va in the table of `level` (the kit's own copy: no student code here). */
static unsigned slot_of(vaddr_t va, int level)
{
    return (va >> (PAGE_SHIFT + INDEX_BITS * (level - 1))) % PT_ENTRIES;
}

/* A table entry pointing at a pool table, with the fixture's upper rights. */
static pte_t table_entry(pte_t *table, pte_t rights) { return KVA2PA(table) | PTE_P | rights; }

/* Drop NX when EFER.NXE is off: the bit would then be reserved. */
static pte_t usable_rights(pte_t rights)
{
    return (rdmsr(MSR_EFER) & EFER_NXE) ? rights : rights & ~PTE_NX;
}

static bool is_canonical(vaddr_t va)
{
    return (vaddr_t)((i64)(va << (64 - VA_BITS)) >> (64 - VA_BITS)) == va;
}

/* Panic, naming the fixture, unless f can be placed as fixture_place promises. */
static void check(const struct fixture *f)
{
    const char *n = f->name;
    if (f->size != PAGE_SIZE && f->size != HUGE_2M && f->size != HUGE_1G)
        panic("fixture %s: size 0x%lx is not 4K, 2M or 1G", n, f->size);
    if (!is_canonical(f->va) || f->va % f->size)
        panic("fixture %s: VA 0x%lx is not canonical or not aligned to 0x%lx", n, f->va, f->size);
    if (f->pa % f->size || f->pa + f->size > FIXTURE_PA_LIMIT)
        panic("fixture %s: PA 0x%lx is not aligned to 0x%lx or too high", n, f->pa, f->size);
    if (kernel_pml4[slot_of(f->va, PT_LEVEL_PML4)])
        panic("fixture %s: PML4 slot %u of VA 0x%lx is in use (overlap)", n,
              slot_of(f->va, PT_LEVEL_PML4), f->va);
    if (nplaced == FIXTURES_MAX)
        panic("fixture %s: more than %d fixtures", n, FIXTURES_MAX);
}

const struct fixture *fixture_place(const struct fixture *f)
{
    check(f);
    struct fixture *p = &placed[nplaced];
    struct fixture_tables *t = &pool[nplaced];
    *p = *f;
    p->leaf = usable_rights(f->leaf);
    p->upper = usable_rights(f->upper);
    pte_t leaf = p->pa | PTE_P | p->leaf;
    if (p->size != PAGE_SIZE)
        leaf |= PTE_PS;
    if (p->pat)
        leaf |= p->size == PAGE_SIZE ? PTE_PAT : PTE_PAT_HUGE;

    if (p->size == HUGE_1G) {
        t->pdpt[slot_of(p->va, PT_LEVEL_PDPT)] = leaf;
    } else if (p->size == HUGE_2M) {
        t->pdpt[slot_of(p->va, PT_LEVEL_PDPT)] = table_entry(t->pd, p->upper);
        t->pd[slot_of(p->va, PT_LEVEL_PD)] = leaf;
    } else {
        t->pdpt[slot_of(p->va, PT_LEVEL_PDPT)] = table_entry(t->pd, p->upper);
        t->pd[slot_of(p->va, PT_LEVEL_PD)] = table_entry(t->pt, p->upper);
        t->pt[slot_of(p->va, PT_LEVEL_PT)] = leaf;
    }
    /* Last, so the slot becomes visible only once its tables are complete. */
    kernel_pml4[slot_of(p->va, PT_LEVEL_PML4)] = table_entry(t->pdpt, p->upper);
    nplaced++;
    return p;
}

/* Copy the next field of s (up to ':' or ',') into out; returns the rest or NULL. */
static const char *next_field(const char *s, char *out)
{
    size_t n = 0;
    while (*s && *s != ':' && *s != ',') {
        if (n + 1 >= FIELD_MAX) {
            out[n] = '\0';
            return NULL;
        }
        out[n++] = *s++;
    }
    out[n] = '\0';
    return *s ? s + 1 : s;
}

static bool parse_size(const char *s, u64 *out)
{
    if (!strcmp(s, "4K") || !strcmp(s, "4k"))
        return *out = PAGE_SIZE, true;
    if (!strcmp(s, "2M") || !strcmp(s, "2m"))
        return *out = HUGE_2M, true;
    if (!strcmp(s, "1G") || !strcmp(s, "1g"))
        return *out = HUGE_1G, true;
    return parse_u64(s, out);
}

/* "wux" letters -> PTE_W | PTE_U, and PTE_NX unless 'x'. "-" means none.
 * 'p' (the PAT bit) is accepted only where pat is not NULL. */
static bool parse_rights(const char *s, pte_t *out, bool *pat)
{
    pte_t r = PTE_NX;
    if (!strcmp(s, "-"))
        return *out = r, true;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s == 'w')
            r |= PTE_W;
        else if (*s == 'u')
            r |= PTE_U;
        else if (*s == 'x')
            r &= ~PTE_NX;
        else if (*s == 'p' && pat)
            *pat = true;
        else
            return false;
    }
    *out = r;
    return true;
}

/* Parse "VA:PA:SIZE:LEAF[:UPPER]" into f; panics naming the parameter. */
static void parse_fixture(const char *name, const char *value, struct fixture *f)
{
    char field[FIELDS_MAX][FIELD_MAX];
    int n = 0;
    const char *s = value;
    while (s && *s && n < FIELDS_MAX)
        s = next_field(s, field[n++]);
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, strlen(name) + 1);
    f->upper = RIGHTS_ALL;
    if (!s || *s || n < FIELDS_MIN || !parse_u64(field[0], &f->va) || !parse_u64(field[1], &f->pa) ||
        !parse_size(field[2], &f->size) || !parse_rights(field[3], &f->leaf, &f->pat) ||
        (n == FIELDS_MAX && !parse_rights(field[4], &f->upper, NULL)))
        panic("fixture %s: cannot parse '%s' (want VA:PA:SIZE:LEAF[:UPPER])", name, value);
}

int fixtures_init(void)
{
    for (int i = 0; i < FIXTURES_MAX; i++) {
        char name[sizeof placed[0].name];
        ksnprintf(name, sizeof name, "fix%d", i);
        const char *value = kit_param(name);
        if (!value)
            continue;
        struct fixture f;
        parse_fixture(name, value, &f);
        fixture_place(&f);
    }
    return nplaced;
}

int fixtures_count(void) { return nplaced; }

const struct fixture *fixture_get(int i)
{
    assert(i >= 0 && i < nplaced);
    return &placed[i];
}

static const char *size_name(u64 size)
{
    return size == HUGE_1G ? "1G" : size == HUGE_2M ? "2M" : "4K";
}

static void print_rights(pte_t r, bool pat)
{
    kprintf(" %c%c%c%s", r & PTE_W ? 'w' : '-', r & PTE_U ? 'u' : '-', r & PTE_NX ? '-' : 'x',
            pat ? "p" : "");
}

void fixtures_print(void)
{
    for (int i = 0; i < nplaced; i++) {
        const struct fixture *f = &placed[i];
        kprintf("%s 0x%lx 0x%lx %s", f->name, f->va, f->pa, size_name(f->size));
        print_rights(f->leaf, f->pat);
        print_rights(f->upper, false);
        kprintf("\n");
    }
}
