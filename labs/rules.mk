# The one set of build rules for every lab snapshot.
#
# Included by labs/<lab>/Makefile, so `make -C labs/<lab>` builds that lab's
# ISO. A snapshot of lab N links:
#   labs/kernel                     the core
#   labs/N                          the lab's kit side (LAB_KIT_SRCS of its lab.mk)
#   starter/N (solutions/N with SOLUTION=1)          the student files (LAB_STUDENT_SRCS)
#   for each earlier lab M in LAB_DEPS: solutions/M when M is published
#                                   (PUBLISHED, course.toml), else the student's starter/M
#
# Variables:
#   SOLUTION=1        build lab N from solutions/N (instructors, `make check`)
#   SUBMISSION=path   take starter/... from a submission folder instead of this tree
#   PUBLISHED=labs    earlier labs linked from solutions/ (default: course.toml)
#   BUILD=dir         output folder (default build/<lab>/<starter|solution>)
#   V=1               show full commands
#   EXTRA_CFLAGS=...  more flags for the lab's own files (not the shared core)

.DEFAULT_GOAL := all
KIT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
include $(KIT)/labs/common.mk

CC := gcc
LD := ld
# -Og: optimised for debugging (gdb sees arguments and locals that -O1 left
# "<optimized out>") and a third less compile time than -O1 (the core: 120 ms
# against 190 ms); -pipe: no temporary assembler files
CFLAGS := -std=gnu11 -Og -g -pipe -Wall -Wextra -Wno-unused-parameter \
	-ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
	-mno-mmx -mno-sse -mno-sse2 -mno-80387 -fno-stack-protector \
	-fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-builtin \
	-nostdlib -fmacro-prefix-map=$(KIT)/=
LDFLAGS := -n -nostdlib -z max-page-size=0x1000 --no-warn-rwx-segments

# ---- which sources make this snapshot --------------------------------------
# load_lab(L): read labs/L/lab.mk into KIT_SRCS.L, STUDENT_SRCS.L, DEPS.L
define load_lab
LAB_KIT_SRCS :=
LAB_STUDENT_SRCS :=
LAB_DEPS :=
include $(KIT)/labs/$(1)/lab.mk
KIT_SRCS.$(1) := $$(LAB_KIT_SRCS)
STUDENT_SRCS.$(1) := $$(LAB_STUDENT_SRCS)
DEPS.$(1) := $$(LAB_DEPS)
endef
$(eval $(call load_lab,$(LAB)))
$(foreach d,$(DEPS.$(LAB)),$(eval $(call load_lab,$(d))))

# from_solution(L): non-empty when lab L's student files come from solutions/L:
# the lab itself under SOLUTION=1; an earlier lab under SOLUTION=1 or when it
# is published (PUBLISHED, from course.toml) and its solution is in this tree.
from_solution = $(if $(SOLUTION),y,$(if $(filter $(1),$(LAB)),,$(and $(filter $(1),$(PUBLISHED)),$(wildcard $(KIT)/solutions/$(1)/.))))
# student_dir(L): where lab L's student files come from
student_dir = $(if $(call from_solution,$(1)),$(KIT)/solutions/$(1),$(STUDENT_ROOT)/starter/$(1))
# obj_group(L): their objects' folder, named by their origin so a change of
# PUBLISHED never links an object compiled from the other file
obj_group = $(if $(call from_solution,$(1)),solution,student)-$(1)
# shared(L): lab L's files and those of every lab it builds on (LAB_DEPS) all
# come from solutions/ in this snapshot. Their objects are then the same in
# every snapshot that links them (they are compiled with the include paths of
# those labs only), so they are compiled once, into build/shared/solution-L,
# for every lab and variant: a clean build of every lab's starter and solution
# compiled solutions/01 nine times, solutions/02 seven.
shared = $(and $(call from_solution,$(1)),$(if $(strip $(foreach d,$(DEPS.$(1)),$(if $(call from_solution,$(d)),,n))),,y))
SHARED_BUILD := $(KIT)/build/shared
# group_dir(L), group_includes(L): where lab L's student objects go, and the
# include paths they compile with
group_dir = $(if $(call shared,$(1)),$(SHARED_BUILD)/solution-$(1),$(BUILD)/obj/$(call obj_group,$(1)))
group_includes = $(if $(call shared,$(1)),-I$(KIT)/labs/kernel/include \
	$(foreach m,$(DEPS.$(1)) $(1),-I$(KIT)/labs/$(m)/include -I$(call student_dir,$(m))),$(INCLUDES))

CORE_ASM := $(wildcard $(KIT)/labs/kernel/*.S)
CORE_C := $(wildcard $(KIT)/labs/kernel/*.c)
ALL_LABS := $(DEPS.$(LAB)) $(LAB)
INCLUDES := -I$(KIT)/labs/kernel/include $(foreach l,$(ALL_LABS),-I$(KIT)/labs/$(l)/include -I$(call student_dir,$(l)))
# What the sandboxed commands may read (labs/common.mk): the core's headers, the
# folders of this snapshot's labs and its student files; never a solution that
# is not staged, the grader or the rest of the kit. SANDBOX_READ: more paths
# for a kernel of the kit's own (the cheat corpus's generated headers).
SANDBOX_SRC := $(KIT)/labs/kernel/include $(foreach l,$(ALL_LABS),$(KIT)/labs/$(l) $(call student_dir,$(l))) \
	$(SANDBOX_READ)

# Each object lives under $(BUILD)/obj/<group>/, one group per source folder;
# the core's objects are shared by every snapshot under build/core/. Objects are
# written to a temporary name and renamed, so parallel builds never see half a file.
#
# compile_group(label, object folder, sources, flags): a group of lab or
# student files (the lab's kit side; one lab's student files), compiled one
# after the other by one command in the build sandbox (labs/sandbox.sh running
# labs/sandbox-cc: one sandbox for the group, not one per file), which writes
# the objects and their dependency lists (checked: every file read lies in
# SANDBOX_SRC) into a private folder and renames them into place. A change to
# one file compiles its group again. compile_core: the core's files, outside
# the sandbox: they see only labs/kernel (-I labs/kernel/include), no student
# file, and their objects in build/core/ are shared by every snapshot, so no
# sandboxed command may write there.
CORE_BUILD := $(KIT)/build/core
OBJS :=
group_objs = $(foreach s,$(2),$(1)/$(basename $(notdir $(s))).o)
define compile_group
GROUPS += $(firstword $(call group_objs,$(2),$(3)))
$(call group_objs,$(2),$(3)) &: $(3) $(MAKEFILE_LIST)
	$$(call say,CC,$(1))$$(SANDBOX) -o '$(2)' $(foreach s,$(3),-d '$(basename $(notdir $(s))).d' \
		-t '$(2)/$(basename $(notdir $(s))).o') compiler '$(1)' -- /bin/sh '$(KIT)/labs/sandbox-cc' @out/ \
		$(foreach s,$(3),'$(s)') -- $$(CC) $$(CFLAGS) $$(SANDBOX_CFLAGS) $(4)
OBJS += $(call group_objs,$(2),$(3))
endef
define compile_core
$(2): $(1) $(MAKEFILE_LIST)
	@mkdir -p $$(@D)
	$$(call say,CC,$$(patsubst $(KIT)/%,%,$$<))$$(CC) $$(CFLAGS) $(3) -MMD -MP -MF $$@.d.$$$$$$$$ -MT $$@ -c $$< -o $$@.$$$$$$$$ && mv -f $$@.d.$$$$$$$$ $$(@:.o=.d) && mv -f $$@.$$$$$$$$ $$@
OBJS += $(2)
endef
db_entry = {"directory": "$(KIT)", "file": "$(1)", "command": "$(CC) $(CFLAGS) $(2) -c $(1)"}
# add_sources(flags, object folder, sources): the core's, one object each
add_sources = $(foreach s,$(3),$(eval $(call compile_core,$(s),$(2)/$(basename $(notdir $(s))).o,$(1)))$(eval COMPILE_DB += $(call db_entry,$(s),$(1))))

# The core's C files compile as one translation unit, build/core/core.c, which
# includes them all: one compiler start instead of 13, each ~20 ms of a 2-core
# machine's time, so a clean build takes 0.3 s less CPU and the core compiles
# alongside the lab's files. So no two core files may define a static function
# or a macro of the same name. gdb and error messages still name each file, and
# compile_commands.json gives editors one entry per file, with the same flags.
# core.c is written when make starts (and only when its text changes), so the
# core's compile, the longest job, can start first.
#
# The lab's own C files (those in labs/<lab>/ itself) compile the same way, as
# one unit $(BUILD)/lab.c: one compiler start instead of three to five, ~0.1 s
# less CPU a build. So, as in the core, no two of a lab's C files may define a
# static function or a macro of the same name.
#
# Both name their files relative to the kit (-iquote $(KIT)), so their text is
# the same in every copy of the kit: a grading copy that starts from a built
# one (make grade-class's template) keeps its core and kit-side objects, where
# absolute names made each copy compile both again (~0.3 s of CPU a submission).
UNITY_FLAGS := -iquote $(KIT)
CORE_UNITY := $(CORE_BUILD)/core.c
CORE_OBJ := $(CORE_BUILD)/obj/core.o
LAB_UNITY := $(BUILD)/lab.c
LAB_UNITY_SRCS := $(addprefix $(KIT)/labs/$(LAB)/,$(foreach s,$(KIT_SRCS.$(LAB)),$(if $(findstring /,$(s)),,$(filter %.c,$(s)))))
LAB_OTHER_SRCS := $(filter-out $(LAB_UNITY_SRCS),$(addprefix $(KIT)/labs/$(LAB)/,$(KIT_SRCS.$(LAB))))
SANDBOX_SRC += $(if $(LAB_UNITY_SRCS),$(LAB_UNITY))
# unity(file, sources): write the file that includes them, only when its text
# changes (make reads the old text itself: a build that changes nothing starts
# no process for it), under a temporary name renamed into place (another build
# may be compiling it). Compared without regard to white space: make 4.3's
# $(file <) sometimes keeps the file's last newline (a rewrite and a recompile
# each time it did, seen in make check).
# unity_to(file, sources relative to the kit) does it.
unity_hash := \#
unity_same = $(if $(subst $(1),,$(2))$(subst $(2),,$(1)),,y)
unity = $(call unity_to,$(1),$(patsubst $(KIT)/%,%,$(2)))
unity_to = $(if $(call unity_same,$(strip $(file <$(1))),$(strip $(foreach s,$(2),$(unity_hash)include "$(s)"))),,\
	$(shell t='$(1)'.$$$$ && printf '\043include "%s"\n' $(foreach s,$(2),'$(s)') > "$$t" && mv -f "$$t" '$(1)'))
$(if $(and $(wildcard $(CORE_BUILD)/.),$(wildcard $(BUILD)/.)),,$(shell mkdir -p '$(CORE_BUILD)' '$(BUILD)'))
$(call unity,$(CORE_UNITY),$(CORE_C))
$(if $(LAB_UNITY_SRCS),$(call unity,$(LAB_UNITY),$(LAB_UNITY_SRCS)))
$(eval $(call compile_core,$(CORE_UNITY),$(CORE_OBJ),-I$(KIT)/labs/kernel/include $(UNITY_FLAGS)))
$(call add_sources,-I$(KIT)/labs/kernel/include,$(CORE_BUILD)/obj,$(CORE_ASM))
COMPILE_DB += $(foreach s,$(CORE_C),$(call db_entry,$(s),-I$(KIT)/labs/kernel/include))
$(eval $(call compile_group,labs/$(LAB),$(BUILD)/obj/lab,$(if $(LAB_UNITY_SRCS),$(LAB_UNITY)) $(LAB_OTHER_SRCS),$(INCLUDES) $(UNITY_FLAGS) $(EXTRA_CFLAGS)))
COMPILE_DB += $(foreach s,$(LAB_UNITY_SRCS) $(LAB_OTHER_SRCS),$(call db_entry,$(s),$(INCLUDES) $(EXTRA_CFLAGS)))
# student_srcs(L): lab L's student files, as this snapshot takes them
student_srcs = $(addprefix $(call student_dir,$(1))/,$(STUDENT_SRCS.$(1)))
student_label = $(patsubst $(KIT)/%,%,$(call student_dir,$(1)))
$(foreach l,$(ALL_LABS),$(if $(STUDENT_SRCS.$(l)),$(eval $(call compile_group,$(call student_label,$(l)),$(call group_dir,$(l)),$(call student_srcs,$(l)),$(call group_includes,$(l))))))
COMPILE_DB += $(foreach l,$(ALL_LABS),$(foreach s,$(call student_srcs,$(l)),$(call db_entry,$(s),$(call group_includes,$(l)))))

# ---- outputs ------------------------------------------------------------------
ELF := $(BUILD)/kernel.elf
ISO := $(BUILD)/kernel.iso
GRUB_CORE := $(BUILD)/grub-core.img

# make -j starts jobs in this order: the core, the current lab's student files
# and kit side, GRUB's core image (else made last, when the link waits for it),
# the earlier labs' files from the latest (the larger groups), then the core's
# small assembler files, so both cores stay busy to the end.
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
STUDENT_GROUPS := $(call reverse,$(wordlist 2,$(words $(GROUPS)),$(GROUPS)))
FIRST_JOBS := $(CORE_OBJ) $(firstword $(STUDENT_GROUPS)) $(firstword $(GROUPS)) $(GRUB_CORE) \
	$(wordlist 2,99,$(STUDENT_GROUPS)) $(OBJS)
all: $(FIRST_JOBS) $(ISO) $(BUILD)/compile_commands.json
# the kernel (and GRUB's core image, made meanwhile): the grader boots the ELF
# with -kernel while the ISO is being made
elf: $(FIRST_JOBS) $(ELF) $(GRUB_CORE)
.PHONY: all elf clean print-%

# A lab is earned by its own code: before the link, each lab's student objects
# are checked against that lab's allowlist, labs/<lab>/api.txt (see
# labs/apicheck.sh): they reference nothing else and define the lab's own
# functions. The stamp is named by the groups of objects it covers, so a
# change of PUBLISHED never links a group that was not checked. Order-only: a
# new stamp does not relink, a failed check stops the link.
API_FILES := $(KIT)/labs/apicheck.sh $(wildcard $(KIT)/labs/*/api.txt)
API_LABS := $(foreach l,$(ALL_LABS),$(if $(STUDENT_SRCS.$(l)),$(l)))
api_space := $(subst ,, )
api_root = $(if $(call from_solution,$(1)),solutions,starter)/$(1)
api_obj = $(call group_dir,$(1))/$(basename $(notdir $(2))).o
ifneq ($(API_LABS),)
API_STAMP := $(BUILD)/obj/api-$(subst $(api_space),+,$(strip $(foreach l,$(API_LABS),$(call obj_group,$(l))))).ok
$(API_STAMP): $(foreach l,$(API_LABS),$(foreach s,$(STUDENT_SRCS.$(l)),$(call api_obj,$(l),$(s)))) $(API_FILES)
	$(call say,API,$(call api_root,$(LAB)))sh '$(KIT)/labs/apicheck.sh' '$(KIT)/labs' '$@' \
		$(foreach l,$(API_LABS),'lab:$(l):$(call api_root,$(l))' \
			$(foreach s,$(STUDENT_SRCS.$(l)),'$(call api_obj,$(l),$(s))' '$(s)'))
endif

# The ISO: GRUB's El Torito core image with labs/kernel/grub.cfg built in, the
# modules multiboot2 needs (GRUB_MODS, the closure of its dependencies in
# moddep.lst) and the kernel, nothing else: see grub.cfg for why. The core
# image does not depend on the kernel, so it is made while the kernel compiles;
# genisoimage then grafts the files in place (xorriso took 0.1 s more, all of
# it one sleep). -boot-info-table patches the boot image it is given, so it
# gets a copy of its own (made inside the sandbox, removed once used).
GRUB_DIR := /usr/lib/grub/i386-pc
GRUB_MODS = $(shell awk -F': *' '{d[$$1]=$$2} END {n=split("multiboot2",q," "); \
	while (n) {m=q[n--]; if (m in s) continue; s[m]=1; k=split(d[m],a," "); for (i=1;i<=k;i++) q[++n]=a[i]} \
	for (m in s) printf "%s ", m}' $(GRUB_DIR)/moddep.lst)

$(GRUB_CORE): $(KIT)/labs/kernel/grub.cfg $(MAKEFILE_LIST)
	@mkdir -p $(@D)
	$(call say,GRUB,$(patsubst $(KIT)/%,%,$@))set -e; \
	grep -v '^#' $< | sed 's/@LAB@/$(LAB)/g' > $@.cfg.$$$$; \
	grub-mkimage -d $(GRUB_DIR) -O i386-pc-eltorito -p /boot/grub -c $@.cfg.$$$$ \
		-o $@.$$$$ biosdisk iso9660 || { rm -f $@.cfg.$$$$ $@.$$$$; exit 1; }; \
	rm -f $@.cfg.$$$$; mv -f $@.$$$$ $@

# The link and the ISO run in the sandbox too (they read objects a student's
# code made), as one command: the GRUB boot waits for the ISO, and each
# sandboxed command costs ~10 ms of CPU and more of wall time to start. Both
# are written into a private folder and renamed into place once both are made
# (the ELF first), so two `make grade` runs in one checkout never read each
# other's half-written files. After the API check (order-only: a new stamp
# does not relink, a failed check stops the link).
$(ELF) $(ISO) &: $(CORE_OBJ) $(OBJS) $(KIT)/labs/kernel/linker.ld $(GRUB_CORE) | $(API_STAMP)
	$(call say,LD+ISO,$(patsubst $(KIT)/%,%,$(ELF)))$(SANDBOX) -o '$(BUILD)' -r '$(CORE_BUILD)/obj' \
		-r '$(BUILD)/obj' $(foreach l,$(ALL_LABS),$(if $(call shared,$(l)),-r '$(call group_dir,$(l))')) \
		-r '$(KIT)/labs/kernel/linker.ld' -r '$(GRUB_CORE)' linker '$(patsubst $(KIT)/%,%,$(ELF))' -- \
		/bin/sh -c 'out=$$1 core=$$2 && shift 2 && "$$@" && cp "$$core" "$$out/boot.img" && \
		genisoimage -quiet -R -graft-points -b boot/grub/core.img -no-emul-boot -boot-load-size 4 \
		-boot-info-table -o "$$out/$(notdir $(ISO))" boot/grub/core.img="$$out/boot.img" \
		boot/kernel.elf="$$out/$(notdir $(ELF))" \
		$(foreach m,$(GRUB_MODS),boot/grub/i386-pc/$(m).mod=$(GRUB_DIR)/$(m).mod) && rm -f "$$out/boot.img"' \
		sh @out/ '$(GRUB_CORE)' $(LD) $(LDFLAGS) -T '$(KIT)/labs/kernel/linker.ld' -o '@out/$(notdir $(ELF))' $(OBJS)

# For editors (clangd): the exact flags of every file of this snapshot.
$(BUILD)/compile_commands.json: $(MAKEFILE_LIST)
	$(shell mkdir -p $(BUILD))
	$(file >$@,[$(subst } {,}$(comma) {,$(strip $(COMPILE_DB)))])
comma := ,

clean:
	rm -rf $(BUILD)

print-%:
	@echo '$($*)'

-include $(OBJS:.o=.d)
