/* Internal interfaces between the core's own files (labs use <kit/...>). */
#ifndef KIT_CORE_H
#define KIT_CORE_H

#include <kit/types.h>

void serial_init(void);
void serial_putc(char c);
int serial_getc(void);
void serial_irq(void); /* acknowledge the receive interrupt (vector SERIAL_VECTOR) */
void serial_gate_at(u64 idt_base); /* the IDT at idt_base holds the UART's gate */
#define PIC_VECTOR_BASE 0x20 /* the 8259's IRQ 0-15 arrive as vectors 32-47 */
#define SERIAL_IRQ 4         /* COM1 */
#define SERIAL_VECTOR (PIC_VECTOR_BASE + SERIAL_IRQ)
extern char serial_interrupt[]; /* its entry stub (trapentry.S) */
void console_init(void);
void console_putc(char c);
void multiboot_parse(u32 magic, paddr_t mbi);
void params_init(void);       /* the platform's: collect the words, then params_parse */
void params_parse(char *text); /* split "key=value" words (text is kept and cut up) */
void paging_init(void);
/* Each lab defines it: its setup, before the monitor starts. Which stub it
 * reaches before printing its first line must not depend on the boot's
 * parameters: such a stub stops every boot of the kernel, and the grader
 * boots only one to see it (grader/harness/pool.py). */
void lab_main(void);
extern const char lab_name[]; /* each lab defines it, e.g. "02-page-fault" */

#endif
