# Lab 4: the page walk. Part B (the kernel) is built here; Part A (warmup/)
# is host code the grader compiles natively with gcc.
LAB_KIT_SRCS := main.c
LAB_KIT_SRCS += cmd_translate.c
LAB_KIT_SRCS += ../03-cr3/fixtures.c
LAB_STUDENT_SRCS := walk.c
LAB_DEPS := 01-segmentation 02-page-fault 03-cr3
