/*
 * Reset and exception entry for the Cortex-M3. The CPU itself stacks
 * r0-r3, r12, lr, pc, xPSR on exception entry (struct exc_frame) and puts
 * an EXC_RETURN value in lr; each stub below finds that frame (on the
 * process stack when EXC_RETURN bit 2 is set, else on the main stack) and
 * hands it to C.
 */
    .syntax unified
    .cpu cortex-m3
    .thumb

#define EXC_RETURN_SPSEL 4
#define NUM_IRQS 32

    .section .vectors, "a"
    .global vector_table
vector_table:
    .word __main_stack_top      /* 0: initial MSP */
    .word reset_handler         /* 1: reset */
    .word fault_vector          /* 2: NMI */
    .word fault_vector          /* 3: HardFault */
    .word memmanage_vector      /* 4: MemManage */
    .word busfault_vector       /* 5: BusFault */
    .word fault_vector          /* 6: UsageFault */
    .word fault_vector, fault_vector, fault_vector, fault_vector   /* 7-10: reserved */
    .word svc_handler           /* 11: SVCall (svc.S) */
    .word fault_vector          /* 12: DebugMonitor */
    .word fault_vector          /* 13: reserved */
    .word fault_vector          /* 14: PendSV */
    .word fault_vector          /* 15: SysTick */
    .rept NUM_IRQS
    .word irq_vector            /* 16+: external interrupts */
    .endr

    .text
    .global reset_handler
    .type reset_handler, %function
    .thumb_func
reset_handler:
    ldr r0, =__bss_start        /* zero .bss */
    ldr r1, =__bss_end
    movs r2, #0
1:  cmp r0, r1
    bhs 2f
    str r2, [r0], #4
    b 1b
2:  bl kmain
    b .

/* MemManage: memmanage_handler(frame), the student's (never returns). */
    .global memmanage_vector
    .type memmanage_vector, %function
    .thumb_func
memmanage_vector:
    tst lr, #EXC_RETURN_SPSEL
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    bl memmanage_handler
    b memmanage_returned

/* Every other fault: fault_report(frame, exc_return), which stops. */
    .global fault_vector
    .type fault_vector, %function
    .thumb_func
fault_vector:
    tst lr, #EXC_RETURN_SPSEL
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    mov r1, lr
    b fault_report

/* BusFault: enabled only while kit_probe() runs (commands.c, `kern probe`).
 * A bus error on its load is skipped: the probe returns false. CFSR keeps
 * the BFSR flags, as after any bus error a kernel handled. Any other
 * BusFault goes to fault_report. */
    .global busfault_vector
    .type busfault_vector, %function
    .thumb_func
busfault_vector:
    tst lr, #EXC_RETURN_SPSEL
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    ldr r1, [r0, #24]           /* the stacked pc */
    ldr r2, =kit_probe_load
    cmp r1, r2
    bne fault_vector
    adds r1, #2                 /* past the 16-bit load */
    str r1, [r0, #24]
    movs r2, #0
    str r2, [r0]                /* the probe's r0: false */
    bx lr

/* bool kit_probe(u32 addr, u32 *word): the word at addr, read privileged,
 * into *word; false when the bus refused the read (busfault_vector). */
    .global kit_probe
    .type kit_probe, %function
    .thumb_func
kit_probe:
    mov r2, r0
    movs r0, #1
kit_probe_load:
    ldr r2, [r2]                /* 16 bits: busfault_vector skips it */
    cbz r0, 1f
    str r2, [r1]
1:  bx lr

/* External interrupts: only the UART's receive interrupt is enabled, to wake
 * the CPU from wfi (uart.c); acknowledge it and return. */
    .global irq_vector
    .type irq_vector, %function
    .thumb_func
irq_vector:
    push {r0, lr}
    bl uart_irq_ack
    pop {r0, pc}
