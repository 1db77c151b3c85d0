# Lab 5: map_to. A frame allocator, creating and removing mappings, the TLB,
# demand paging.
LAB_KIT_SRCS := main.c \
	commands.c \
	probe.S \
	fault.c \
	pool.c
LAB_STUDENT_SRCS := frames.c \
	map.c \
	demo.c \
	demand.c
LAB_DEPS := 01-segmentation 02-page-fault 03-cr3 04-page-walk
