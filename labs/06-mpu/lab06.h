/* Lab 6's kit side: interfaces between its own files (not the student's API). */
#ifndef LAB06_KIT_H
#define LAB06_KIT_H

#include <kit/types.h>
#include <v7m.h>

/* Print a u32: on arm-none-eabi u32 is unsigned long, and kprintf's %lx means 64 bits. */
#define X32(v) ((unsigned int)(v))

/* ---- the memory layout (linker.ld) ---- */
extern char __user_text_start[], __user_text_end[];
extern char __user_data_start[], __user_data_end[];
extern char __arena_start[], __arena_end[];
#define KIT_REGION_USER_TEXT 0 /* the kit's regions; the grader uses 2 and up */
#define KIT_REGION_USER_DATA 1

/* ---- semihosting (platform.c): the host side of QEMU ---- */
#define SEMI_SYS_GET_CMDLINE    0x15
#define SEMI_SYS_EXIT           0x18
#define SEMI_SYS_EXIT_EXTENDED  0x20
#define SEMI_ADP_APPLICATION_EXIT 0x20026
int semihost(u32 op, void *arg);

/* ---- user jobs (user.c) ---- */
enum user_op { USER_READ = 1, USER_WRITE, USER_EXEC, USER_STACK };
/* Run op on addr (and value for a write) unprivileged; return the word read
 * or the value the executed code returned. Faults end in memmanage_handler. */
u32 user_run(enum user_op op, u32 addr, u32 value);
/* The same access, privileged (from the kernel). */
u32 kern_run(enum user_op op, u32 addr, u32 value);
/* A privileged read of addr into *word; false when the bus refused it (start.S). */
bool kit_probe(u32 addr, u32 *word);

/* ---- the kit's own regions (commands.c) ---- */
const char *ap_name(u32 ap);

#endif
