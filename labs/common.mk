# What every lab's build rules share (labs/rules.mk for the x86 labs,
# labs/06-mpu/Makefile for the ARM one), included once KIT is set: the lab,
# where its student files and its build go, parallel jobs, how much make says.
#   SOLUTION=1 / SUBMISSION=dir   which student files (see the including file)
#   BUILD=dir                     the output folder
#   V=1                           show the full commands
#   make -s                       print nothing but errors (the grader builds this way)

include $(KIT)/labs/values.mk
override LAB := $(notdir $(CURDIR))
SUBMISSION ?=
STUDENT_ROOT := $(if $(SUBMISSION),$(abspath $(SUBMISSION)),$(KIT))
# one build folder per submission path, so submissions never share objects
# (values.mk refused what a quote cannot hold; make names files by words, so a
# path with a space is refused too: `make grade SUBMISSION=` takes one)
$(if $(word 2,$(SUBMISSION)),$(error SUBMISSION: the lab build rules take no path with a space; \
	`make grade SUBMISSION=...` does, or give a link to it without one))
VARIANT := $(if $(SOLUTION),solution,$(if $(SUBMISSION),submission-$(shell printf %s '$(abspath $(SUBMISSION))' | cksum | cut -d' ' -f1),starter))
BUILD ?= $(KIT)/build/$(LAB)/$(VARIANT)
# The labs whose solutions are published (course.toml's one-line `published`
# list, unless given on the command line): an earlier lab's published solution
# is linked instead of the student's own work.
ifeq ($(origin PUBLISHED),undefined)
PUBLISHED := $(shell sed -n 's/^published *= *\[\([^]]*\)\].*/\1/p' '$(KIT)/course.toml' 2>/dev/null | tr -d '",')
endif

# as many jobs as this machine gives us: nproc once per make (grade.py passes
# KIT_JOBS, so its builds start no process for it)
ifeq ($(KIT_JOBS),)
KIT_JOBS := $(shell nproc)
endif
MAKEFLAGS += --jobs=$(KIT_JOBS)

ifeq ($(V),1)
Q :=
say :=
else ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
Q := @
say := @
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

# ---- the build sandbox (labs/sandbox.sh) --------------------------------------
# Every command that reads files a student controls (each compile of the lab's
# and the student's files, the link, the ISO) runs through $(SANDBOX): under
# bubblewrap where this machine can make namespaces, always under limits and
# textual checks. KIT_SANDBOX=bwrap|none says which: grade.py probes once and
# passes it with KIT_SANDBOX_NOTE (the line it printed); otherwise make
# probes, and says when the build is degraded.
#   KIT_SANDBOX=none                  no bubblewrap: limits and textual checks only
#   KIT_LIMIT_CPU/MEM/FSIZE/WALL/OUTPUT   the limits (see labs/sandbox.sh)
SANDBOX := /bin/sh $(KIT)/labs/sandbox.sh
# the assembler gcc runs first: labs/sandbox-as, which refuses .incbin/.include
SANDBOX_CFLAGS := -B$(KIT)/labs/sandbox-
ifneq ($(KIT_SANDBOX),bwrap)
ifeq ($(KIT_SANDBOX_NOTE),)
override KIT_SANDBOX := $(shell $(SANDBOX) --probe)
endif
endif
export KIT_SANDBOX
# SANDBOX_SRC (set by the including file): the staged sources of this
# snapshot, what its commands may read, one per line for the script
define sandbox_nl


endef
export KIT_SANDBOX_SRC = $(subst $() ,$(sandbox_nl),$(strip $(SANDBOX_SRC)))
