/* The page-fault error code the CPU pushes for #PF (vector 14), SDM vol. 3 4.7. */
#ifndef KIT_PFERR_H
#define KIT_PFERR_H

#define PFERR_BIT_P    0  /* 1: protection violation; 0: page not present */
#define PFERR_BIT_W    1  /* 1: the access was a write; 0: a read */
#define PFERR_BIT_U    2  /* 1: the access came from CPL 3 */
#define PFERR_BIT_RSVD 3  /* 1: a reserved bit was set in an entry */
#define PFERR_BIT_I    4  /* 1: instruction fetch */
#define PFERR_BIT_PK   5  /* 1: protection-key violation */
#define PFERR_BIT_SS   6  /* 1: shadow-stack access */
#define PFERR_BIT_SGX  15 /* 1: SGX-specific access-control violation */

#define PFERR_PRESENT (1u << PFERR_BIT_P)
#define PFERR_WRITE   (1u << PFERR_BIT_W)
#define PFERR_USER    (1u << PFERR_BIT_U)
#define PFERR_RSVD    (1u << PFERR_BIT_RSVD)
#define PFERR_INSTR   (1u << PFERR_BIT_I)
#define PFERR_PK      (1u << PFERR_BIT_PK)
#define PFERR_SS      (1u << PFERR_BIT_SS)
#define PFERR_SGX     (1u << PFERR_BIT_SGX)

#endif
