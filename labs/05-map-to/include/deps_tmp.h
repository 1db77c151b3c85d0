/* TEMPORARY stand-ins for the APIs of Labs 1-4 until they land (delete me). */
#ifndef DEPS_TMP_H
#define DEPS_TMP_H
#include <kit/types.h>
#include <kit/trap.h>
struct trapframe;
void *phys_to_virt(paddr_t pa);
paddr_t cr3_pml4(void);
unsigned pt_index(vaddr_t va, int level);
u64 page_offset(vaddr_t va);
bool is_canonical(vaddr_t va);
void page_fault_handler(struct trapframe *tf);
void gdt_init(void);
void idt_init(void);
#endif
