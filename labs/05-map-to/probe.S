/* probes (todo) */
    .section .note.GNU-stack, "", @progbits
