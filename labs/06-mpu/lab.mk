# Lab 06 (bonus) - memory protection without paging: the Cortex-M3 MPU.
# An ARM kernel (QEMU mps2-an385), so this lab has its own rules (Makefile).
# The core's portable files, linked as they are (labs/kernel/):
LAB_CORE_SRCS := kprintf.c \
	monitor.c \
	panic.c \
	params.c \
	string.c
# Kit side: the board (reset, UART, semihosting), fault entry, the user-mode
# round trip, the jobs and the monitor commands.
LAB_KIT_SRCS := start.S \
	svc.S \
	main.c \
	platform.c \
	cmdline.c \
	uart.c \
	faults.c \
	user.c \
	commands.c
# Student side: MPU regions, the MemManage handler, the drop to unprivileged.
LAB_STUDENT_SRCS := mpu.c \
	memmanage.c \
	user_enter.c
LAB_DEPS :=
