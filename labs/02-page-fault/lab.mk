# Lab 2: the page-fault handler. The student builds an IDT whose gates send
# #BP, #DF (on IST 1) and #PF to their handlers; the kit side provides the
# faults to catch (scenarios.c) and the monitor commands that trigger them.
LAB_KIT_SRCS := main.c
LAB_KIT_SRCS += scenarios.c
LAB_KIT_SRCS += rsvd.c
LAB_KIT_SRCS += usermode.c
LAB_KIT_SRCS += cmd_idt.c
LAB_STUDENT_SRCS := idt.c
LAB_STUDENT_SRCS += pferr.c
LAB_STUDENT_SRCS += handlers.c
LAB_DEPS := 01-segmentation
