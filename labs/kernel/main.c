/* kmain: the 64-bit kernel's first C code, entered from boot.S. */
#include <kit/kit.h>
#include <kit/boot.h>
#include <kit/monitor.h>
#include <kit/trap.h>
#include "core.h"

__noreturn void kmain(u32 magic, paddr_t mbi)
{
    serial_init();
    console_init();
    multiboot_parse(magic, mbi); /* before paging_init drops the 1 GiB identity map */
    params_init();
    paging_init();
    trap_init();
    kprintf("kit: lab %s, %lu MiB usable, physoff 0x%lx\n", lab_name, boot_info.phys_top >> 20,
            boot_info.phys_offset);
    lab_main();
    monitor_run();
}
