# Not a lab: the grader's corpus of cheating and broken kernels (see
# grader/cheats.py). Built with CHEAT_LAB (the lab it pretends to be),
# CHEAT_MODE and CHEAT_REPLAY (a generated header of recorded serial output).
LAB_KIT_SRCS := cheat.c
LAB_STUDENT_SRCS :=
LAB_DEPS :=
