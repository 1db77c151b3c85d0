/*
 * Boot information, from GRUB (multiboot2) or QEMU -kernel (PVH): copy what the kernel needs (command line,
 * memory map, ELF section headers) into boot_info while the boot tables
 * still identity-map it.
 */
#include <kit/kit.h>
#include <kit/boot.h>
#include "core.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define PVH_BOOT_MAGIC 0x336ec578 /* what boot.S passes for a PVH entry */
#define PVH_START_MAGIC 0x336ec578 /* hvm_start_info.magic */
#define MB2_TAG_END     0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_MMAP    6
#define MB2_TAG_ELF     9
#define MB2_TAG_ALIGN   8

struct mb2_tag {
    u32 type, size;
};

struct mb2_mmap_entry {
    u64 base, len;
    u32 type, reserved;
};

struct mb2_tag_mmap {
    struct mb2_tag tag;
    u32 entry_size, entry_version;
    u8 entries[];
};

struct mb2_tag_elf {
    struct mb2_tag tag;
    u32 num, entsize, shndx;
    u8 headers[];
};

struct elf64_shdr {
    u32 name, type;
    u64 flags, addr, offset, size;
    u32 link, info;
    u64 addralign, entsize;
};

struct boot_info boot_info;

static void add_region(paddr_t base, u64 len, u32 type);

static void copy_mmap(const struct mb2_tag_mmap *t)
{
    const u8 *p = t->entries, *end = (const u8 *)t + t->tag.size;
    for (; p + sizeof(struct mb2_mmap_entry) <= end && boot_info.mmap_count < BOOT_MAX_MMAP;
         p += t->entry_size) {
        const struct mb2_mmap_entry *e = (const void *)p;
        add_region(e->base, e->len, e->type);
    }
}

static void copy_sections(const struct mb2_tag_elf *t)
{
    for (u32 i = 0; i < t->num && boot_info.section_count < BOOT_MAX_SECTIONS; i++) {
        const struct elf64_shdr *sh = (const void *)(t->headers + (u64)i * t->entsize);
        struct elf_section *s = &boot_info.sections[boot_info.section_count++];
        s->type = sh->type;
        s->flags = sh->flags;
        s->addr = sh->addr;
        s->size = sh->size;
    }
}

static void set_cmdline(const char *s)
{
    size_t n = strlen(s);
    if (n >= BOOT_CMDLINE_MAX)
        n = BOOT_CMDLINE_MAX - 1;
    memcpy(boot_info.cmdline, s, n);
    boot_info.cmdline[n] = '\0';
}

static void add_region(paddr_t base, u64 len, u32 type)
{
    if (boot_info.mmap_count == BOOT_MAX_MMAP)
        return;
    boot_info.mmap[boot_info.mmap_count++] = (struct mmap_region){base, len, type};
    if (type == MMAP_USABLE && base + len > boot_info.phys_top)
        boot_info.phys_top = base + len;
}

/*
 * The PVH start info (QEMU -kernel): command line and memory map, nothing
 * about ELF sections. See xen/include/public/arch-x86/hvm/start_info.h.
 */
struct hvm_start_info {
    u32 magic, version, flags, nr_modules;
    u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    u32 memmap_entries, reserved;
};

static void pvh_parse(paddr_t info)
{
    const struct hvm_start_info *si = (const void *)info;
    if (si->magic != PVH_START_MAGIC)
        panic("pvh_parse: bad start info magic 0x%x", si->magic);
    boot_info.mbi_start = info;
    boot_info.mbi_end = info + sizeof *si;
    if (si->cmdline_paddr)
        set_cmdline((const char *)si->cmdline_paddr);
    if (si->version >= 1 && si->memmap_paddr) {
        const struct mb2_mmap_entry *e = (const void *)si->memmap_paddr;
        for (u32 i = 0; i < si->memmap_entries; i++)
            add_region(e[i].base, e[i].len, e[i].type);
    }
}

void multiboot_parse(u32 magic, paddr_t mbi)
{
    boot_info.kernel_start = 0x200000; /* the .boot part, see linker.ld */
    boot_info.kernel_end = KVA2PA(__kernel_end);
    if (magic == PVH_BOOT_MAGIC) {
        pvh_parse(mbi);
        return;
    }
    if (magic != MB2_BOOTLOADER_MAGIC)
        panic("multiboot_parse: bad magic 0x%x", magic);
    u32 total = *(const u32 *)mbi; /* identity-mapped during boot */
    boot_info.mbi_start = mbi;
    boot_info.mbi_end = mbi + total;

    const u8 *p = (const u8 *)mbi + 8;
    const u8 *end = (const u8 *)mbi + total;
    while (p < end) {
        const struct mb2_tag *tag = (const void *)p;
        if (tag->type == MB2_TAG_END)
            break;
        switch (tag->type) {
        case MB2_TAG_CMDLINE:
            set_cmdline((const char *)(tag + 1));
            break;
        case MB2_TAG_MMAP:
            copy_mmap((const void *)tag);
            break;
        case MB2_TAG_ELF:
            copy_sections((const void *)tag);
            break;
        }
        p += ALIGN_UP(tag->size, MB2_TAG_ALIGN);
    }
}
