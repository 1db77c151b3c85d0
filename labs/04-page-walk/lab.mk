# Lab 4: the page walk. Part A (warmup/: three page-table designs as data)
# and Part B (walk.c: the machine's own four-level tables) both build into
# this kernel; the monitor runs them (cmd_warmup.c, cmd_translate.c).
LAB_KIT_SRCS := main.c
LAB_KIT_SRCS += cmd_translate.c
LAB_KIT_SRCS += warmup_tables.c
LAB_KIT_SRCS += cmd_warmup.c
LAB_KIT_SRCS += ../03-cr3/fixtures.c
LAB_STUDENT_SRCS := walk.c
LAB_STUDENT_SRCS += warmup/toy.c
LAB_STUDENT_SRCS += warmup/x86_32.c
LAB_STUDENT_SRCS += warmup/inverted.c
LAB_DEPS := 01-segmentation 02-page-fault 03-cr3
