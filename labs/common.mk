# What every lab's build rules share (labs/rules.mk for the x86 labs,
# labs/06-mpu/Makefile for the ARM one), included once KIT is set: the lab,
# where its student files and its build go, parallel jobs, how much make says.
#   SOLUTION=1 / SUBMISSION=dir   which student files (see the including file)
#   BUILD=dir                     the output folder
#   V=1                           show the full commands
#   make -s                       print nothing but errors (the grader builds this way)

override LAB := $(notdir $(CURDIR))
SUBMISSION ?=
STUDENT_ROOT := $(if $(SUBMISSION),$(abspath $(SUBMISSION)),$(KIT))
# one build folder per submission path, so submissions never share objects
VARIANT := $(if $(SOLUTION),solution,$(if $(SUBMISSION),submission-$(shell printf %s '$(abspath $(SUBMISSION))' | cksum | cut -d' ' -f1),starter))
BUILD ?= $(KIT)/build/$(LAB)/$(VARIANT)
# The labs whose solutions are published (course.toml's one-line `published`
# list, unless given on the command line): an earlier lab's published solution
# is linked instead of the student's own work.
ifeq ($(origin PUBLISHED),undefined)
PUBLISHED := $(shell sed -n 's/^published *= *\[\([^]]*\)\].*/\1/p' '$(KIT)/course.toml' 2>/dev/null | tr -d '",')
endif

MAKEFLAGS += --jobs=$(shell nproc)

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
