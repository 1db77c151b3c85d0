/* Lab 5 kit side: boot setup (skeleton). */
#include <kit/kit.h>
#include "mapper.h"

const char lab_name[] = "05-map-to";

void lab_main(void)
{
    frame_init(kit_param_u64("frames", FRAME_POOL_ALL));
}
