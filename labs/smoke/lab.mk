# The harness's own test kernel: the core plus commands that misbehave on
# purpose (hang, triple fault, flood, reboot). Not a lab students see.
LAB_KIT_SRCS := smoke.c
LAB_STUDENT_SRCS :=
LAB_DEPS :=
