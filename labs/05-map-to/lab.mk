# Lab 5: map_to. A frame allocator, creating and removing mappings, the TLB,
# demand paging.
LAB_KIT_SRCS := main.c \
	commands.c \
	probe.S \
	deps_tmp.c
LAB_STUDENT_SRCS := frames.c \
	map.c \
	demo.c \
	demand.c
LAB_DEPS :=
