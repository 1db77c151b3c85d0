/* Internal interfaces between the files of Lab 2's kit side. */
#ifndef LAB02_LAB2_H
#define LAB02_LAB2_H

#include <kit/types.h>

/* scenarios.c: each makes exactly one access (see the file's header). */
u64 probe_read(vaddr_t addr);
void probe_write(vaddr_t addr, u64 v);
void probe_exec(vaddr_t addr);
/* Print the 8 bytes at addr, read by probe_read: "peek ADDR: VALUE". */
void peek(vaddr_t addr);
/* Make the fault of `fault KIND ADDR` (KIND "overflow" ignores addr). Returns
 * only when no fault came, or the kind is unknown: -1. */
int fault_run(const char *kind, vaddr_t addr);

/* rsvd.c: map addr's page (inside RSVD_WINDOW) with a reserved bit, then read it. */
#define RSVD_WINDOW      0x0000008000000000ull /* PML4 slot 1: unused by the core */
#define RSVD_WINDOW_SIZE (1ull << 21)           /* one page table's worth: 2 MiB */
void rsvd_fault(vaddr_t addr);

/* usermode.c: from ring 3, "uread" or "uwrite" addr, or "uint3" then read addr. */
void user_fault(const char *how, vaddr_t addr);

/* cmd_idt.c: the gate_* boot parameters' idt_gate_encode, then stop. */
void gate_param_run(void);
/* cmd_idt.c: pferrn's buffer, filled with PFERR_PROBE_FILL before each call. */
#define PFERR_PROBE_BYTES 96
#define PFERR_PROBE_FILL  0xa5
extern char pferr_probe[PFERR_PROBE_BYTES];

#endif
