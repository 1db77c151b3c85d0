/*
 * A page whose entry has a reserved bit set. The kit hangs three tables of its
 * own under PML4 slot 1 (RSVD_WINDOW, where the core maps nothing) and fills
 * one entry of the last table: present, writable, and with bit RSVD_BIT set.
 * RSVD_BIT lies above the CPU's physical-address width (MAXPHYADDR), where
 * every entry must hold zero, so any access to the page is a page fault with
 * PFERR_RSVD, even though the entry is present.
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/pte.h>
#include "lab2.h"

#define RSVD_BIT         51
#define RSVD_PML4_SLOT   1
#define CPUID_ADDR_SIZES 0x80000008 /* EAX 7..0: MAXPHYADDR */
#define MAXPHYADDR_MASK  0xff

static pte_t win_pdpt[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t win_pd[PT_ENTRIES] __aligned(PAGE_SIZE);
static pte_t win_pt[PT_ENTRIES] __aligned(PAGE_SIZE);
static u8 win_frame[PAGE_SIZE] __aligned(PAGE_SIZE);

static unsigned maxphyaddr(void)
{
    u32 eax, ebx, ecx, edx;
    __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(CPUID_ADDR_SIZES));
    return eax & MAXPHYADDR_MASK;
}

void rsvd_fault(vaddr_t addr)
{
    if (addr < RSVD_WINDOW || addr >= RSVD_WINDOW + RSVD_WINDOW_SIZE) {
        kprintf("rsvd: ADDR must lie in [0x%llx, 0x%llx)\n", RSVD_WINDOW,
                RSVD_WINDOW + RSVD_WINDOW_SIZE);
        return;
    }
    if (maxphyaddr() > RSVD_BIT)
        panic("rsvd_fault: MAXPHYADDR %u leaves bit %d usable", maxphyaddr(), RSVD_BIT);
    u64 page = (addr - RSVD_WINDOW) / PAGE_SIZE;
    kernel_pml4[RSVD_PML4_SLOT] = KVA2PA(win_pdpt) | PTE_P | PTE_W;
    win_pdpt[0] = KVA2PA(win_pd) | PTE_P | PTE_W;
    win_pd[0] = KVA2PA(win_pt) | PTE_P | PTE_W;
    win_pt[page] = KVA2PA(win_frame) | PTE_P | PTE_W | (1ull << RSVD_BIT);
    kprintf("rsvd: entry of page 0x%lx is 0x%016lx\n", ALIGN_DOWN(addr, PAGE_SIZE), win_pt[page]);
    probe_read(addr);
}
