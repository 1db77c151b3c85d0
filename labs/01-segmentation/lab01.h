/* Interfaces between the kit-side files of Lab 1 (not the student's API). */
#ifndef LAB01_LAB01_H
#define LAB01_LAB01_H

#include <kit/types.h>

/* user.S: the call gate's target, entered at CPL 0 on the TSS RSP0 stack. */
void gate_entry(void);

#endif
