/*
 * The lab's page-fault handler, registered over Lab 2's: a not-present fault
 * in the lazy region goes to the student's demand_map(); a fault of a kit
 * probe resumes at the probe's failure exit; anything else is reported and
 * stops the kernel, by Lab 2's page_fault_handler().
 */
#include "lab5.h"
#include "mapper.h"
#include <idt.h>
#include <kit/kit.h>
#include <kit/pferr.h>
#include <kit/pte.h>
#include <kit/trap.h>
#include <kit/x86.h>

extern char probe_read_insn[], probe_write_insn[], probe_fail[];

struct probe_fault last_probe_fault;
static vaddr_t last_demand_page; /* the page demand_map() served last, or 0 */

void demand_reset(void)
{
    last_demand_page = 0;
}

static bool in_lazy_region(vaddr_t va)
{
    return va >= LAZY_BASE && va - LAZY_BASE < LAZY_SIZE;
}

/* A not-present kernel access in the lazy region: let demand_map() serve it.
 * True when the access may run again. */
static bool serve_lazy(const struct trapframe *tf, vaddr_t addr)
{
    if (!in_lazy_region(addr) || (tf->error & (PFERR_PRESENT | PFERR_USER)))
        return false;
    vaddr_t page = ALIGN_DOWN(addr, PAGE_SIZE);
    if (page == last_demand_page) { /* served, yet it faults again: no progress */
        kdiag("lazy: demand_map(0x%lx) returned MAP_OK but the page still faults", addr);
        return false;
    }
    int r = demand_map(addr);
    if (r != MAP_OK) {
        kdiag("lazy: demand_map(0x%lx) = %d %s", addr, r, map_status_name(r));
        return false;
    }
    last_demand_page = page;
    return true;
}

/* A fault of a probe instruction: resume at probe_fail. */
static bool probe_fixup(struct trapframe *tf, vaddr_t addr)
{
    if (tf->rip != (u64)probe_read_insn && tf->rip != (u64)probe_write_insn)
        return false;
    last_probe_fault.cr2 = addr;
    last_probe_fault.error = tf->error;
    tf->rip = (u64)probe_fail;
    return true;
}

static void lab_page_fault(struct trapframe *tf)
{
    vaddr_t addr = read_cr2();
    if (serve_lazy(tf, addr) || probe_fixup(tf, addr))
        return;
    page_fault_handler(tf); /* Lab 2: report and stop */
}

void fault_init(void)
{
    trap_register(T_PF, lab_page_fault);
}
