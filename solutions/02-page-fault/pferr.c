/* Lab 2: naming the bits of the page-fault error code. */
#include <kit/kit.h>
#include <kit/pferr.h>
#include <idt.h>

/* The optional flags: named only when set. */
static const struct {
    u32 mask;
    const char *name;
} optional_flags[] = {
    {PFERR_RSVD, "reserved-bit"}, {PFERR_INSTR, "fetch"}, {PFERR_PK, "protection-key"},
    {PFERR_SS, "shadow-stack"},   {PFERR_SGX, "sgx"},
};

int pferr_decode(u64 err, char *buf, size_t size)
{
    int n = ksnprintf(buf, size, "%s %s %s", (err & PFERR_PRESENT) ? "protection" : "not-present",
                      (err & PFERR_WRITE) ? "write" : "read",
                      (err & PFERR_USER) ? "user" : "supervisor");
    for (size_t i = 0; i < ARRAY_SIZE(optional_flags); i++)
        if (err & optional_flags[i].mask)
            n += ksnprintf(buf + n, size > (size_t)n ? size - n : 0, " %s", optional_flags[i].name);
    return n;
}
