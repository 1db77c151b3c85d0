/*
 * Lab 6: programming the Cortex-M3 MPU. Read handouts/06-mpu.md first; the
 * register layouts are drawn in labs/06-mpu/include/mpu.h, with the
 * contract of each function.
 */
#include <kit/kit.h>
#include <mpu.h>

bool mpu_encode(const struct mpu_region *r, u32 *rbar, u32 *rasr)
{
    /* LAB 6: refuse what cannot be a region (four checks, see mpu.h), then
     * build RASR from MPU_RASR_* macros: SIZE is log2(size) - 1 (a 4 KiB
     * region is SIZE 11; __builtin_clz helps), AP with MPU_RASR_AP(), srd
     * at MPU_RASR_SRD_SHIFT, XN, MPU_RASR_ATTR_NORMAL and MPU_RASR_ENABLE.
     * Try it with the `encode` command: `encode 0x20100000 0x1000 3 1 0`
     * must print rbar 0x20100000 rasr 0x13030017. */
    LAB_STUB(6, "mpu_encode");
}

int mpu_region_set(u32 n, const struct mpu_region *r)
{
    /* LAB 6: the region count is MPU_TYPE's DREGION field. Select the region
     * with MPU_RNR, then write MPU_RBAR and MPU_RASR (disable the region
     * first if you like: RASR = 0). End with dsb() and isb() (v7m.h).
     * Check with the `mpu` command, and in QEMU's monitor with
     * `xp /3wx 0xE000ED98`. */
    LAB_STUB(6, "mpu_region_set");
}

int mpu_region_clear(u32 n)
{
    /* LAB 6: select region n and write 0 to its RASR (ENABLE clear). */
    LAB_STUB(6, "mpu_region_clear");
}

void mpu_enable(bool background)
{
    /* LAB 6: SCB_SHCSR gets SHCSR_MEMFAULTENA (v7m.h); MPU_CTRL gets
     * MPU_CTRL_ENABLE, and MPU_CTRL_PRIVDEFENA when background. Forget
     * PRIVDEFENA and the kernel faults on its very next instruction. */
    LAB_STUB(6, "mpu_enable");
}

void mpu_disable(void)
{
    /* LAB 6: MPU_CTRL = 0, between barriers. */
    LAB_STUB(6, "mpu_disable");
}
