/* Fixed-width types for a freestanding kernel. */
#ifndef KIT_TYPES_H
#define KIT_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

typedef u64 paddr_t; /* a physical address: never dereference it directly */
typedef u64 vaddr_t; /* a virtual address */

#define KiB(x) ((u64)(x) << 10)
#define MiB(x) ((u64)(x) << 20)
#define GiB(x) ((u64)(x) << 30)

#define ALIGN_DOWN(x, a) ((x) & ~((u64)(a)-1))
#define ALIGN_UP(x, a)   ALIGN_DOWN((x) + (a)-1, (a))
#define ARRAY_SIZE(a)    (sizeof(a) / sizeof((a)[0]))

#define __packed  __attribute__((packed))
#define __aligned(n) __attribute__((aligned(n)))
#define __noreturn __attribute__((noreturn))
#define __used    __attribute__((used))
#define __must_check __attribute__((warn_unused_result))

#endif
