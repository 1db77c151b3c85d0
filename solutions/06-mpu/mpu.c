/*
 * Lab 6: programming the Cortex-M3 MPU. Read handouts/06-mpu.md first; the
 * register layouts are drawn in labs/06-mpu/include/mpu.h.
 */
#include <kit/kit.h>
#include <mpu.h>

/* Number of regions this MPU implements (8 on a Cortex-M3). */
static u32 mpu_regions(void)
{
    return (MPU_TYPE & MPU_TYPE_DREGION_MASK) >> MPU_TYPE_DREGION_SHIFT;
}

static bool is_pow2(u32 x) { return x && !(x & (x - 1)); }

/* log2 of a power of two. */
static u32 log2_pow2(u32 x) { return 31u - (u32)__builtin_clz(x); }

bool mpu_encode(const struct mpu_region *r, u32 *rbar, u32 *rasr)
{
    if (!is_pow2(r->size) || r->size < MPU_MIN_SIZE)
        return false;
    if (r->base & (r->size - 1))
        return false; /* misaligned: the hardware would ignore the region */
    if (r->ap > MPU_AP_RO_ALT || r->ap == MPU_AP_RESERVED)
        return false;
    if (r->srd && r->size < MPU_SRD_MIN_SIZE)
        return false;
    *rbar = r->base & MPU_RBAR_ADDR_MASK;
    *rasr = (r->xn ? MPU_RASR_XN : 0) | MPU_RASR_AP(r->ap) | MPU_RASR_ATTR_NORMAL |
            ((u32)r->srd << MPU_RASR_SRD_SHIFT) |
            ((log2_pow2(r->size) - 1) << MPU_RASR_SIZE_SHIFT) | MPU_RASR_ENABLE;
    return true;
}

int mpu_region_set(u32 n, const struct mpu_region *r)
{
    u32 rbar, rasr;
    if (n >= mpu_regions() || !mpu_encode(r, &rbar, &rasr))
        return -1;
    MPU_RNR = n;
    MPU_RASR = 0; /* off while its base and size disagree */
    MPU_RBAR = rbar;
    MPU_RASR = rasr;
    dsb();
    isb();
    return 0;
}

int mpu_region_clear(u32 n)
{
    if (n >= mpu_regions())
        return -1;
    MPU_RNR = n;
    MPU_RASR = 0;
    dsb();
    isb();
    return 0;
}

void mpu_enable(bool background)
{
    SCB_SHCSR |= SHCSR_MEMFAULTENA;
    MPU_CTRL = MPU_CTRL_ENABLE | (background ? MPU_CTRL_PRIVDEFENA : 0);
    dsb();
    isb();
}

void mpu_disable(void)
{
    dsb();
    MPU_CTRL = 0;
    dsb();
    isb();
}
