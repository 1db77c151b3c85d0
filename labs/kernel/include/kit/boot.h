/*
 * What the boot loader told us, copied out of the multiboot2 information
 * before the boot identity mapping goes away, plus the kernel's layout.
 */
#ifndef KIT_BOOT_H
#define KIT_BOOT_H

#include <kit/types.h>

/* The kernel is linked at KERNEL_VMA + its physical load address. */
#define KERNEL_VMA 0xffffffff80000000ull
#define KVA2PA(va) ((paddr_t)(va)-KERNEL_VMA)
#define PA2KVA(pa) ((void *)((paddr_t)(pa) + KERNEL_VMA))

/* Linker-script symbols: page-aligned bounds of the image (virtual). */
extern char __kernel_start[], __text_start[], __text_end[], __rodata_start[], __rodata_end[],
    __data_start[], __kernel_end[], __user_text_start[], __user_text_end[], __user_data_start[],
    __user_data_end[];
/* Put code or data on pages that ring 3 may use (user bit set). */
#define __usertext __attribute__((section(".usertext"), used))
#define __userdata __attribute__((section(".userdata"), used, aligned(16)))
/* The boot stack: one unmapped guard page, then KSTACK_SIZE bytes. */
extern char kstack_guard[], kstack_top[];
#define KSTACK_SIZE KiB(16)
/* Two more 16 KiB stacks for a TSS: RSP0 (ring 3 -> 0) and IST1 (double fault). */
extern char rsp0_stack_top[], ist1_stack_top[];
/* The core's PML4 (see paging.c); CR3 points at it after boot. */
extern u64 kernel_pml4[512];
/* The loader's GDT of boot.S: null, code 0x08, unused, data 0x18. */
extern const u64 boot_gdt[4];

/* Memory map entry types (multiboot2 / E820). */
enum mmap_type { MMAP_USABLE = 1, MMAP_RESERVED = 2, MMAP_ACPI = 3, MMAP_NVS = 4, MMAP_BAD = 5 };

struct mmap_region {
    paddr_t base;
    u64 len;
    u32 type;
};

struct elf_section {
    u32 type;
    u64 flags;
    vaddr_t addr;
    u64 size;
};

#define BOOT_MAX_MMAP     64
#define BOOT_MAX_SECTIONS 64
#define BOOT_CMDLINE_MAX  512

struct boot_info {
    char cmdline[BOOT_CMDLINE_MAX];
    struct mmap_region mmap[BOOT_MAX_MMAP];
    int mmap_count;
    struct elf_section sections[BOOT_MAX_SECTIONS];
    int section_count;
    paddr_t mbi_start, mbi_end; /* where the multiboot2 information lies */
    paddr_t kernel_start, kernel_end; /* physical extent of the loaded image */
    u64 phys_offset; /* all physical memory is mapped at phys_offset + pa */
    paddr_t phys_top;  /* end of the highest usable region */
};

extern struct boot_info boot_info;

/* The QEMU fw_cfg file `name` (-fw_cfg name=NAME,file=PATH): false when there
 * is none; else its size in *size and its first min(size, max) bytes in buf. */
bool fw_cfg_file(const char *name, void *buf, u32 max, u32 *size);

#endif
