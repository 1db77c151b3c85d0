/* Lab 5, kit side: interfaces between the kit's own files (not for students). */
#ifndef LAB5_KIT_H
#define LAB5_KIT_H

#include <kit/trap.h>
#include <kit/types.h>

/* ---- probe.S: memory accesses that survive a page fault ---- */

/* Read (write) the u64 at va. True when the access went through; false when
 * it faulted and the #PF handler sent it to its failure exit (probe_fixup). */
bool probe_read(vaddr_t va, u64 *out);
bool probe_write(vaddr_t va, u64 value);

/* ---- fault.c: the lab's #PF handler ---- */

/* What the last probe that faulted saw: CR2 and the error code. */
struct probe_fault {
    vaddr_t cr2;
    u64 error;
};
extern struct probe_fault last_probe_fault;

/* Route #PF to the lab's handler: lazy region -> demand_map(), a probe ->
 * its failure exit, anything else -> Lab 2's page_fault_handler(). */
void fault_init(void);
/* Forget the last page demand_map() served (call before each new access). */
void demand_reset(void);

/* ---- pool.c: the kit's view of the student's frame allocator ---- */

/* A kernel pointer to physical address pa through the core's offset mapping
 * (the kit's own, so it never depends on the student's code). */
void *kit_phys(paddr_t pa);

/* One frame_alloc() for the `alloc` command: print "alloc PA", or why the
 * allocator must not have returned PA (pool.c checks it against boot_info
 * and the frames the kit holds). Returns PA, or FRAME_NONE when the pool
 * was empty or PA is bad (then nobody may write it). */
paddr_t pool_take(void);

/* Take every frame the allocator has (reporting any bad one), list
 * them as runs "frames START-END" when `list`, then give `keep` of them back.
 * Returns the number of frames held. */
u64 pool_hold(u64 keep, bool list);
/* Give every held frame back to the allocator. Returns how many. */
u64 pool_release(void);
/* Count the free frames and fill each with the u64 `pattern` (0: leave them). */
u64 pool_scribble(u64 pattern);

/* "MAP_OK", "MAP_ERR_MAPPED", ... */
const char *map_status_name(int status);

#endif
