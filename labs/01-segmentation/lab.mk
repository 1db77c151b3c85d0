# Lab 01 - Segmentation and the GDT.
# Kit side: the monitor commands, the scenario GDT, the ring-3 code and the gate target.
LAB_KIT_SRCS := main.c \
	commands.c \
	scenarios.c \
	user.S
# Student side: descriptor encoding, the kernel GDT and TSS, the call gate.
LAB_STUDENT_SRCS := gdt.c
LAB_DEPS :=
