/*
 * Lab 1: segment descriptors, the kernel GDT, the TSS and a call gate.
 *
 * A code or data descriptor is 8 bytes; seg_encode() builds it from four
 * fields that the CPU wants scattered (for backward compatibility with the
 * 80286, whose descriptors had only the low 6 bytes):
 *
 *  63      56 55 54 53 52 51   48 47 46 45 44 43    40 39          16 15          0
 * +----------+--+--+--+--+-------+--+-----+--+--------+--------------+-------------+
 * |base 31:24|G |DB|L |AV|limit  |P | DPL |S |  type  |  base 23:0   | limit 15:0  |
 * |          |  |  |  |L |19:16  |  |     |  |        |              |             |
 * +----------+--+--+--+--+-------+--+-----+--+--------+--------------+-------------+
 *             '-- flags ---'       '------ access byte ------'
 *             (seg_encode's flags)      (seg_encode's access)
 *
 * A selector names a descriptor:
 *
 *   15                        3   2   1   0
 *  +---------------------------+----+-------+
 *  |   index into the table    | TI |  RPL  |     TI 0 = GDT, 1 = LDT
 *  +---------------------------+----+-------+
 *
 * System descriptors (the TSS, a call gate) are 16 bytes in long mode: the
 * low 8 bytes have the layout above with S = 0, the next 4 bytes hold bits
 * 63:32 of the base (or of the gate's target), the last 4 are zero.
 */
#ifndef LAB01_GDT_H
#define LAB01_GDT_H

#include <kit/segments.h>
#include <kit/types.h>

/* ---- the access byte (bits 47:40 of a descriptor) ---- */
#define SEG_ACC_BIT_A    0 /* accessed: the CPU sets it when it loads the descriptor */
#define SEG_ACC_BIT_RW   1 /* code: readable; data: writable */
#define SEG_ACC_BIT_DC   2 /* code: conforming; data: expands down */
#define SEG_ACC_BIT_CODE 3 /* 1: code (executable), 0: data */
#define SEG_ACC_BIT_S    4 /* 1: code or data; 0: system (TSS, gate, LDT) */
#define SEG_ACC_BIT_DPL  5 /* two bits: descriptor privilege level */
#define SEG_ACC_BIT_P    7 /* present: 0 makes a load fault with #NP (#SS for SS) */

#define SEG_ACC_A      (1u << SEG_ACC_BIT_A)
#define SEG_ACC_RW     (1u << SEG_ACC_BIT_RW)
#define SEG_ACC_DC     (1u << SEG_ACC_BIT_DC)
#define SEG_ACC_CODE   (1u << SEG_ACC_BIT_CODE)
#define SEG_ACC_S      (1u << SEG_ACC_BIT_S)
#define SEG_ACC_DPL(n) (((n)&3u) << SEG_ACC_BIT_DPL)
#define SEG_ACC_P      (1u << SEG_ACC_BIT_P)
#define SEG_ACC_TYPE_MASK 0x0fu /* the type field: low 4 bits of the access byte */

/* System types (access byte with S = 0, SDM vol. 3 table 3-2, IA-32e mode). */
#define SYS_TYPE_TSS_AVAIL 0x9 /* 64-bit TSS, not busy */
#define SYS_TYPE_TSS_BUSY  0xb /* 64-bit TSS, busy: ltr sets this */
#define SYS_TYPE_CALL_GATE 0xc /* 64-bit call gate */

/* ---- the flags nibble (bits 55:52), seg_encode's flags argument ---- */
#define SEG_FLAG_BIT_AVL 0 /* free for software */
#define SEG_FLAG_BIT_L   1 /* code: 64-bit (long mode) segment; DB must then be 0 */
#define SEG_FLAG_BIT_DB  2 /* code: 32-bit default operands; data: 32-bit stack */
#define SEG_FLAG_BIT_G   3 /* granularity: the limit counts 4 KiB units */

#define SEG_FLAG_AVL (1u << SEG_FLAG_BIT_AVL)
#define SEG_FLAG_L   (1u << SEG_FLAG_BIT_L)
#define SEG_FLAG_DB  (1u << SEG_FLAG_BIT_DB)
#define SEG_FLAG_G   (1u << SEG_FLAG_BIT_G)

#define SEG_LIMIT_MAX 0xfffffu /* the limit field is 20 bits */

/* ---- selectors ---- */
#define SEL_RPL_MASK 3u
#define SEL_TI       4u /* 1: the index is into the LDT */
#define SEL_INDEX_SHIFT 3
#define SEL_INDEX(sel) ((sel) >> SEL_INDEX_SHIFT)
#define SEL_RPL(sel)   ((sel)&SEL_RPL_MASK)
#define SEL_MAKE(index, rpl) (((index) << SEL_INDEX_SHIFT) | ((rpl)&SEL_RPL_MASK))

/*
 * The 64-bit TSS (SDM vol. 3 figure 8-11). In long mode it holds no registers
 * of a task, only stacks: the CPU loads RSP from rsp[n] when an interrupt or
 * a call gate moves it to ring n, and from ist[k] (k = 1..7) when an IDT gate
 * names IST k. iomap_base is the offset of the I/O permission bitmap from the
 * start of the TSS; an offset at or past the TSS limit means "no bitmap", so
 * ring 3 may use no port at all (with IOPL 0).
 */
struct tss {
    u32 reserved0;
    u64 rsp[3];     /* rsp[0]: the stack for entering ring 0 (RSP0) */
    u64 ist[8];     /* ist[0] is reserved; ist[k] is ISTk */
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
} __packed;

#define TSS_BYTES 104 /* sizeof(struct tss): the TSS limit is TSS_BYTES - 1 */
#define TSS_IST_DOUBLE_FAULT 1 /* later labs run #DF on IST1 */

/* The kernel's GDT (layout of <kit/segments.h>) and its TSS. The CPU writes
 * both (accessed and busy bits), so they live in writable data, and the
 * grader finds them in the ELF by these names. */
extern u64 gdt[GDT_ENTRIES];
extern struct tss tss;

/* ---- what the student implements (gdt.c) ---- */

/* The 8-byte code/data descriptor for (base, limit, access, flags).
 * limit: 20 bits (SEG_LIMIT_MAX); flags: the nibble SEG_FLAG_G|DB|L|AVL. */
u64 seg_encode(u32 base, u32 limit, u8 access, u8 flags);

/* The 16-byte system descriptor (TSS or LDT) for a 64-bit base:
 * desc[0] is seg_encode's layout with S = 0, desc[1] holds base 63:32. */
void sysdesc_encode(u64 desc[2], u64 base, u32 limit, u8 access);

/* Build the kernel GDT and TSS (RSP0 = rsp0_stack_top, IST1 = ist1_stack_top),
 * load them (lgdt, CS by a far return, DS/ES/SS = KERNEL_DS, FS/GS = null, ltr).
 * Later labs call it first thing in lab_main. */
void gdt_init(void);

/* Install a 64-bit call gate, DPL 3, at CALLGATE_SEL: a far call through
 * CALLGATE_SEL from ring 3 enters target at CPL 0 (KERNEL_CS). */
void callgate_install(u64 target);

#endif
