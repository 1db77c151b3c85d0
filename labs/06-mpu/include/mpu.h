/*
 * Lab 6: the ARMv7-M Memory Protection Unit (PMSAv7), as on a Cortex-M3.
 *
 * No translation: an address is what it is. The MPU only decides, for each
 * access, whether it is allowed. It holds a few regions (MPU_TYPE.DREGION,
 * 8 on a Cortex-M3); you pick one with RNR, then write its base (RBAR) and
 * its size and rights (RASR):
 *
 *   RBAR   31                                 5  4     3      0
 *         +------------------------------------+-----+--------+
 *         |  ADDR: base, aligned to the size   |VALID| REGION |
 *         +------------------------------------+-----+--------+
 *            VALID=1 on a write: take the region number from REGION
 *            (and set RNR to it) instead of from RNR.
 *
 *   RASR   31  29 28 27 26  24 23 22  19 18 17 16 15      8 7   6 5     1 0
 *         +-----+--+--+------+-----+-----+--+--+--+---------+-----+-------+--+
 *         |  0  |XN| 0|  AP  |  0  | TEX | S| C| B|   SRD   |  0  | SIZE  |EN|
 *         +-----+--+--+------+-----+-----+--+--+--+---------+-----+-------+--+
 *            SIZE: the region is 2^(SIZE+1) bytes, 32 B (SIZE=4) to 4 GiB (31)
 *            SRD:  bit i disables subregion i (an eighth of the region; only
 *                  for regions of 256 bytes or more)
 *            AP:   access permissions, privileged / unprivileged (MPU_AP_*)
 *            XN:   execute never: fetching an instruction there faults
 *            TEX S C B: memory type; this lab always uses MPU_RASR_ATTR_NORMAL
 *
 * A region whose base is not aligned to its size is UNPREDICTABLE: QEMU then
 * ignores the region silently (only `-d guest_errors` says so), which is why
 * mpu_encode() must refuse it. When regions overlap, the highest-numbered
 * region decides. An address in no region falls to the background map
 * (the architecture's default memory map) when CTRL.PRIVDEFENA is set, for
 * privileged code only: unprivileged code faults there.
 */
#ifndef LAB06_MPU_H
#define LAB06_MPU_H

#include <kit/types.h>
#include <v7m.h>

/* ---- registers ---- */
#define MPU_TYPE REG32(0xE000ED90u) /* DREGION (bits 15:8): number of data regions */
#define MPU_CTRL REG32(0xE000ED94u)
#define MPU_RNR  REG32(0xE000ED98u) /* region number that RBAR and RASR access */
#define MPU_RBAR REG32(0xE000ED9Cu)
#define MPU_RASR REG32(0xE000EDA0u)

#define MPU_TYPE_DREGION_SHIFT 8
#define MPU_TYPE_DREGION_MASK  (0xffu << MPU_TYPE_DREGION_SHIFT)

#define MPU_CTRL_BIT_ENABLE     0 /* the MPU checks accesses */
#define MPU_CTRL_BIT_HFNMIENA   1 /* ... also in HardFault and NMI handlers */
#define MPU_CTRL_BIT_PRIVDEFENA 2 /* privileged code may use the background map */
#define MPU_CTRL_ENABLE     (1u << MPU_CTRL_BIT_ENABLE)
#define MPU_CTRL_HFNMIENA   (1u << MPU_CTRL_BIT_HFNMIENA)
#define MPU_CTRL_PRIVDEFENA (1u << MPU_CTRL_BIT_PRIVDEFENA)

#define MPU_RBAR_REGION_MASK 0x0000000fu
#define MPU_RBAR_BIT_VALID   4
#define MPU_RBAR_VALID       (1u << MPU_RBAR_BIT_VALID)
#define MPU_RBAR_ADDR_MASK   0xffffffe0u

#define MPU_RASR_BIT_ENABLE 0
#define MPU_RASR_ENABLE     (1u << MPU_RASR_BIT_ENABLE)
#define MPU_RASR_SIZE_SHIFT 1
#define MPU_RASR_SIZE_MASK  (0x1fu << MPU_RASR_SIZE_SHIFT)
#define MPU_RASR_SRD_SHIFT  8
#define MPU_RASR_SRD_MASK   (0xffu << MPU_RASR_SRD_SHIFT)
#define MPU_RASR_BIT_B      16
#define MPU_RASR_BIT_C      17
#define MPU_RASR_BIT_S      18
#define MPU_RASR_TEX_SHIFT  19
#define MPU_RASR_AP_SHIFT   24
#define MPU_RASR_AP_MASK    (0x7u << MPU_RASR_AP_SHIFT)
#define MPU_RASR_BIT_XN     28
#define MPU_RASR_B   (1u << MPU_RASR_BIT_B)
#define MPU_RASR_C   (1u << MPU_RASR_BIT_C)
#define MPU_RASR_S   (1u << MPU_RASR_BIT_S)
#define MPU_RASR_XN  (1u << MPU_RASR_BIT_XN)
#define MPU_RASR_AP(ap) (((u32)(ap)&7u) << MPU_RASR_AP_SHIFT)
/* Normal memory, write-back, not shareable (TEX 000, C 1, B 1): every region of this lab. */
#define MPU_RASR_ATTR_NORMAL (MPU_RASR_C | MPU_RASR_B)

/* AP values: rights for privileged / unprivileged code. 4 is reserved. */
#define MPU_AP_NONE    0 /* none  / none  */
#define MPU_AP_PRW     1 /* RW    / none  */
#define MPU_AP_PRW_URO 2 /* RW    / RO    */
#define MPU_AP_RW      3 /* RW    / RW    */
#define MPU_AP_RESERVED 4
#define MPU_AP_PRO     5 /* RO    / none  */
#define MPU_AP_RO      6 /* RO    / RO    */
#define MPU_AP_RO_ALT  7 /* RO    / RO (the same as 6) */

#define MPU_MIN_SIZE      32u  /* smallest region */
#define MPU_SRD_MIN_SIZE  256u /* smallest region that has subregions */
#define MPU_SUBREGIONS    8

/* One region as the kernel describes it. */
struct mpu_region {
    u32 base; /* first byte: a multiple of size */
    u32 size; /* bytes: a power of two, MPU_MIN_SIZE up to 2 GiB */
    u8 ap;    /* MPU_AP_* */
    u8 srd;   /* subregion disable mask: bit i switches off the i-th eighth */
    bool xn;  /* execute never */
};

/* ---- what you write (starter/06-mpu/mpu.c) ---- */

/*
 * Encode r as the RBAR and RASR words of an enabled region (RBAR: the base
 * address bits only, VALID and REGION clear; RASR with MPU_RASR_ATTR_NORMAL).
 * Returns false, leaving *rbar and *rasr alone, when r cannot be a region:
 * size not a power of two or below MPU_MIN_SIZE, base not a multiple of
 * size, ap reserved or above 7, or srd not 0 on a region below
 * MPU_SRD_MIN_SIZE.
 */
bool mpu_encode(const struct mpu_region *r, u32 *rbar, u32 *rasr);

/*
 * Program region n with r and enable it. Returns 0, or -1 when n is not
 * below the number of regions the MPU has (MPU_TYPE) or mpu_encode refuses r;
 * on -1 the hardware is unchanged. Leaves RNR = n.
 */
int mpu_region_set(u32 n, const struct mpu_region *r);

/* Disable region n (RASR = 0). Returns 0, or -1 when n is out of range. */
int mpu_region_clear(u32 n);

/*
 * Turn the MPU on: let MemManage faults be taken (SHCSR.MEMFAULTENA, else
 * they escalate to HardFault), then CTRL.ENABLE, with CTRL.PRIVDEFENA when
 * background is true (the kernel runs on the background map: without it the
 * kernel's own next instruction fetch faults). Barriers so the next
 * instruction already runs under the new rules.
 */
void mpu_enable(bool background);

/* Turn the MPU off (CTRL = 0), with the same barriers. */
void mpu_disable(void);

#endif
