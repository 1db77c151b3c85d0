/*
 * The core's address space, built once at boot with simple, specific code
 * (fixed tables in .bss, loops over fixed ranges). It replaces the boot
 * tables of boot.S:
 *
 *   0x1000 .. 2 MiB            identity, 4 KiB pages, RW, NX (page 0 left out,
 *                              so a NULL dereference faults); VGA text at 0xb8000
 *   KERNEL_VMA + 2 MiB ..      the kernel image, 4 KiB pages: text RX, user text
 *                              RX+U, rodata R, user data RW+U, data/bss RW NX;
 *                              the stack guard page is not mapped
 *   phys_offset + 0 .. top     all physical memory, 2 MiB pages, RW, NX
 *
 * Labs find the root in kernel_pml4 and the offset in boot_info.phys_offset.
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/pte.h>
#include <kit/x86.h>
#include "core.h"

#define DEFAULT_PHYS_OFFSET 0xffff888000000000ull
#define PHYSMAP_MAX_GIB 4
#define KERNEL_PTS 2 /* the image may span 4 MiB from its 2 MiB load address */

pte_t kernel_pml4[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t low_pdpt[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t low_pd[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t low_pt[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t kern_pdpt[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t kern_pd[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t kern_pt[KERNEL_PTS][PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t phys_pdpt[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t phys_pd[PHYSMAP_MAX_GIB][PT_ENTRIES] __aligned(PAGE_SIZE);

static pte_t table_entry(void *table) { return KVA2PA(table) | PTE_P | PTE_W | PTE_U; }

/* The rights of one page of the kernel image, by the section it lies in. */
static pte_t image_page_flags(char *va, pte_t nx)
{
    if (va >= kstack_guard && va < kstack_guard + PAGE_SIZE)
        return 0; /* the guard page: a stack overflow faults here */
    if (va < __text_end)
        return PTE_P;
    if (va < __user_text_end)
        return PTE_P | PTE_U;
    if (va < __rodata_end)
        return PTE_P | nx;
    if (va < __user_data_end)
        return PTE_P | PTE_W | PTE_U | nx;
    return PTE_P | PTE_W | nx;
}

static void map_low(pte_t nx)
{
    kernel_pml4[0] = table_entry(low_pdpt);
    low_pdpt[0] = table_entry(low_pd);
    low_pd[0] = table_entry(low_pt);
    for (u64 i = 1; i < PT_ENTRIES; i++)
        low_pt[i] = (i * PAGE_SIZE) | PTE_P | PTE_W | nx;
}

static void map_image(pte_t nx)
{
    vaddr_t start = (vaddr_t)__kernel_start, end = (vaddr_t)__kernel_end;
    vaddr_t base = KERNEL_VMA + MiB(2); /* kern_pt[0][0] maps this page */
    if (end - base > KERNEL_PTS * HUGE_2M)
        panic("paging_init: kernel image too large (%lu bytes)", end - base);
    kernel_pml4[PT_ENTRIES - 1] = table_entry(kern_pdpt);
    kern_pdpt[PT_ENTRIES - 2] = table_entry(kern_pd); /* -2 GiB */
    for (int t = 0; t < KERNEL_PTS; t++)
        kern_pd[1 + t] = table_entry(kern_pt[t]);
    for (vaddr_t va = start; va < end; va += PAGE_SIZE) {
        u64 n = (va - base) / PAGE_SIZE;
        pte_t flags = image_page_flags((char *)va, nx);
        if (flags)
            kern_pt[n / PT_ENTRIES][n % PT_ENTRIES] = KVA2PA(va) | flags;
    }
}

static void map_physical(pte_t nx)
{
    u64 off = kit_param_u64("physoff", DEFAULT_PHYS_OFFSET);
    u64 top = ALIGN_UP(boot_info.phys_top, HUGE_2M);
    u64 gib = ALIGN_UP(top, HUGE_1G) / HUGE_1G;
    u64 l4 = (off >> 39) % PT_ENTRIES, l3 = (off >> 30) % PT_ENTRIES;
    if (off % HUGE_1G || off < 0xffff800000000000ull || l4 == 0 || l4 == PT_ENTRIES - 1 ||
        l3 + gib > PT_ENTRIES || gib > PHYSMAP_MAX_GIB)
        panic("paging_init: unusable physoff=0x%lx for %lu GiB", off, gib);
    boot_info.phys_offset = off;
    kernel_pml4[l4] = KVA2PA(phys_pdpt) | PTE_P | PTE_W;
    for (u64 g = 0; g < gib; g++)
        phys_pdpt[l3 + g] = KVA2PA(phys_pd[g]) | PTE_P | PTE_W;
    for (u64 pa = 0; pa < top; pa += HUGE_2M)
        phys_pd[pa / HUGE_1G][(pa / HUGE_2M) % PT_ENTRIES] = pa | PTE_P | PTE_W | PTE_PS | nx;
}

void paging_init(void)
{
    pte_t nx = (rdmsr(MSR_EFER) & EFER_NXE) ? PTE_NX : 0;
    map_low(nx);
    map_image(nx);
    map_physical(nx);
    write_cr3(KVA2PA(kernel_pml4));
}
