/* Interfaces between the kit-side files of Lab 1 (not the student's API). */
#ifndef LAB01_LAB01_H
#define LAB01_LAB01_H

#include <kit/types.h>

/* user.S: the call gate's target, entered at CPL 0 on the TSS RSP0 stack. */
void gate_entry(void);

/* user.S: ring-3 entry points (for enter_user) and their inputs. */
extern char user_load_ds[], user_load_es[], user_load_fs[], user_load_gs[], user_load_ss[];
extern char user_hlt[], user_cli[], user_sti[], user_rdcr3[], user_wrcr3[], user_rdmsr[];
extern char user_lgdt[], user_invlpg[], user_in[], user_out[];
extern char user_gate[], user_gate_back[], user_done[];
extern volatile u64 user_sel, user_port;

/* scenarios.c: run the scenario of the "run" boot parameter, if any (ends the boot). */
void scenarios_run_params(void);

/* commands.c: print one GDT slot decoded; returns how many slots it used (1 or 2). */
int gdt_print_slot(const u64 *table, unsigned index, unsigned count);

/* commands.c: encode and sysencode, for run= scenarios too (a refusal ends the boot). */
int cmd_encode(int argc, char **argv);
int cmd_sysencode(int argc, char **argv);

#endif
