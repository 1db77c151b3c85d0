/* Lab 2: naming the bits of the page-fault error code. */
#include <kit/kit.h>
#include <kit/pferr.h>
#include <idt.h>

/* LAB 2: one word per bit of <kit/pferr.h>, in the order and spelling the
 * contract in idt.h gives. Hint: ksnprintf returns the length it wrote. */
int pferr_decode(u64 err, char *buf, size_t size)
{
    LAB_STUB(2, "pferr_decode");
}
