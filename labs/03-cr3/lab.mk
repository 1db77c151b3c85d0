# Lab 03 - CR3 inspection: reaching the page tables.
# Kit side (labs/03-cr3/): boot setup, monitor commands, fixture mappings.
LAB_KIT_SRCS := main.c \
	commands.c \
	fixtures.c
# Student side (starter/03-cr3/ and solutions/03-cr3/).
LAB_STUDENT_SRCS := cr3.c \
	pte.c \
	ptdump.c \
	recursive.c
# Earlier labs whose student files are linked (see the handout).
LAB_DEPS := 01-segmentation 02-page-fault
