# Memory-protection kernel labs: entry points.
#
#   make grade [LAB=..] [TEST=..]    build and grade your labs (all labs without LAB)
#   make check                       the kit's self-check: every test fails on the
#                                    starter and passes on the solution (+ harness tests,
#                                    a sample of the cheat corpus)
#   make check-cheats                the whole cheat corpus against every lab
#   make check-examples [LAB=..]     run the handouts' examples (make lines, lab> sessions, monitor
#                                    commands) on the solutions; a table of run / not run / failing
#   make mutants [LAB=..] [REPEAT=N] [JOBS=N]  grade every planted bug of grader/mutants/<lab>/:
#                                    each must be caught (in N of N runs with REPEAT=N)
#   make check-messages [LAB=..]     the planted classic bugs (`# message:` mutants): each caught
#                                    with a message that names its cause
#   make check-selection [LAB=..] [RUNS=N]  every test alone (TEST=<name>) on the solution,
#                                    N times (default 2): each must pass every run
#   make bench                       time a boot, each lab's grading and make check
#   make qemu LAB=..                 run a lab kernel, serial on this terminal (Ctrl-A X quits)
#   make qemu LAB=.. INTLOG=1        the same, with QEMU's log of every interrupt and exception
#                                    (-d int,cpu_reset) in build/<lab>/<variant>/qemu-int.log
#                                    (INTLOG=path: there); make qemu prints where; QEMU
#                                    stops once a log reaches 256 MiB (make qemu-gdb's too)
#   make qemu-gdb LAB=..             the same, stopped, waiting for gdb on a private socket
#   make gdb LAB=..                  attach gdb (kernel symbols, 64-bit) to that socket
#   make build LAB=..                build the lab's ISO only
#   make setup                       install the Debian packages the kit needs
#   make clean                       remove build/
#   make grade-class SUBMISSIONS=dir grade a folder of submissions (gradebook CSV/JSON)
#   make gradescope                  build the Gradescope autograder zip
#
# Variables:
#   LAB=01 | LAB=01-segmentation     which lab (a number or the folder name in labs/)
#   TEST=words                       make grade: only tests whose names contain these words
#   SOLUTION=1                       use solutions/<lab> instead of starter/<lab> (instructors)
#   SUBMISSION=dir                   use a submission folder's starter/ files
#   PARAMS="seed=5 physoff=..."      make qemu: per-boot parameters (as the grader passes them)
#   INTLOG=1 | INTLOG=path           make qemu: log interrupts and exceptions (QEMU's -d int)
#   QEMU_EXTRA="-S"                  make qemu: more QEMU options, as given (also labs/06-mpu)
#   GDB_SOCK=path                    make qemu-gdb / make gdb: the socket (default
#                                    $TMPDIR/kit-<uid>/<lab>-<variant>.gdb.sock); give both the same
#   V=1                              show full build commands
#
# Paths and names are data: a space works; a value holding ' " $ ` \ or a
# newline is refused (labs/values.mk).

KIT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
include $(KIT)/labs/values.mk
PY := /usr/bin/python3
PACKAGES := qemu-system-x86 grub-pc-bin grub-common genisoimage gdb binutils gcc make \
	python3-pytest python3-pexpect python3-pytest-xdist pandoc git \
	gcc-arm-none-eabi qemu-system-arm gdb-multiarch bubblewrap

LABS := $(notdir $(wildcard $(KIT)/labs/[0-9][0-9]-*))
LAB_NAME := $(if $(LAB),$(firstword $(filter $(LAB) $(LAB)-% 0$(LAB)-% %-$(LAB),$(LABS) smoke)),)
# one build folder per submission path, so submissions never share objects
# (labs/common.mk names it the same way; values.mk refused what a quote cannot hold)
VARIANT := $(if $(SOLUTION),solution,$(if $(SUBMISSION),submission-$(shell printf %s '$(abspath $(SUBMISSION))' | cksum | cut -d' ' -f1),starter))
LAB_BUILD := $(KIT)/build/$(LAB_NAME)/$(VARIANT)
MAKE_VARS := $(if $(SOLUTION),SOLUTION=1) $(if $(SUBMISSION),'SUBMISSION=$(abspath $(SUBMISSION))') $(if $(V),'V=$(V)')
, := ,
GDB_SOCK ?= $(or $(TMPDIR),/tmp)/kit-$(shell id -u)/$(LAB_NAME)-$(VARIANT).gdb.sock
QEMU_ARGS := -M q35,smm=off,pit=off -cpu qemu64,+pdpe1gb -m 128M -display none -nic none -no-reboot \
	-serial mon:stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	$(if $(PARAMS),-fw_cfg 'name=opt/kit/params$(,)string=$(subst $(,),$(,)$(,),$(PARAMS))')
QEMU_INTLOG := $(if $(filter 1,$(INTLOG)),$(LAB_BUILD)/qemu-int.log,$(INTLOG))
# QEMU's interrupt log grows ~110 MB/s in a fault loop: make qemu and qemu-gdb
# cap the files QEMU writes at 256 MiB (a lab's whole grading logs < 1 MiB);
# past it QEMU ends (SIGXFSZ, status 153) and make says why
INTLOG_MAX := 268435456
INTLOG_CAP := $(if $(shell command -v prlimit),prlimit --fsize=$(INTLOG_MAX) --)
INTLOG_SAID = { s=$$?; [ $$s -ne 153 ] || echo "kit: QEMU stopped: its interrupt log reached \
	$$(($(INTLOG_MAX) >> 20)) MiB (an endless fault loop? a handler that returns to the faulting instruction)"; exit $$s; }

.PHONY: help setup need grade check check-cheats qemu qemu-gdb gdb build clean lab-required bench
help:
	@sed -n '1,/^$$/p' $(KIT)/Makefile | sed 's/^# \{0,1\}//'

# Check the packages; install them when root, else say exactly what to run.
setup:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "setup: all packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "setup: missing packages:$$(echo $$missing)"; \
		echo "setup: run:  sudo apt-get install -y $$(echo $$missing)"; exit 1; fi; \
	set -- $$missing; log=$$(mktemp); export DEBIAN_FRONTEND=noninteractive; \
	echo "setup: installing $$# package(s): $$*"; \
	echo "setup: apt-get install (downloads and unpacks them; a minute or more, its output in $$log)"; \
	if ! apt-get install -y -q "$$@" >"$$log" 2>&1; then \
		echo "setup: apt-get install failed: updating the package lists (apt-get update) and trying again"; \
		apt-get update -q >>"$$log" 2>&1 && apt-get install -y -q "$$@" >>"$$log" 2>&1 \
		|| { echo "setup: apt failed; the last lines of $$log:"; tail -n 15 "$$log"; exit 1; }; fi; \
	echo "setup: done: $$# package(s) installed"; rm -f "$$log"

need:
	@command -v qemu-system-x86_64 >/dev/null && command -v grub-mkimage >/dev/null && command -v genisoimage >/dev/null && \
	command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null && command -v bwrap >/dev/null && \
	test -d /usr/lib/python3/dist-packages/_pytest -a -d /usr/lib/python3/dist-packages/pexpect \
	|| $(MAKE) -s setup

lab-required:
	@test -n "$(LAB_NAME)" || { echo "Say which lab: LAB=<one of: $(LABS)>"; exit 2; }

grade: need solution-published
	@$(PY) $(KIT)/grader/grade.py $(if $(LAB),--lab '$(LAB)') $(if $(TEST),--test '$(TEST)') \
		$(if $(SOLUTION),--solution) $(if $(SUBMISSION),--submission '$(SUBMISSION)') \
		$(if $(GRADESCOPE),--gradescope '$(GRADESCOPE)')

check: need
	@$(PY) $(KIT)/grader/check.py $(if $(LAB),--lab '$(LAB)')

# every example of the lab handouts (and the TA guide's) against the solutions
.PHONY: check-examples
check-examples: need
	@$(PY) $(KIT)/grader/examples.py $(if $(LAB),--lab '$(LAB)')

bench: need
	@$(PY) $(KIT)/grader/bench.py --check

check-cheats: need
	@$(PY) $(KIT)/grader/check.py --cheats all

.PHONY: mutants
mutants: need
	@$(PY) $(KIT)/grader/mutants.py $(if $(LAB),--lab '$(LAB)') $(if $(REPEAT),--repeat '$(REPEAT)') \
		$(if $(JOBS),--jobs '$(JOBS)')

# the planted classic bugs (mutants with a `# message:` line): each must be caught
# with a failure message that names its likely cause
.PHONY: check-messages
check-messages: need
	@$(PY) $(KIT)/grader/mutants.py --messages $(if $(LAB),--lab '$(LAB)') $(if $(JOBS),--jobs '$(JOBS)')

.PHONY: check-selection
check-selection: need
	@$(PY) $(KIT)/grader/selection.py $(if $(LAB),--lab '$(LAB)') $(if $(RUNS),--runs '$(RUNS)')

build: lab-required
	@$(MAKE) -s -C $(KIT)/labs/$(LAB_NAME) $(MAKE_VARS)
	@cp $(LAB_BUILD)/compile_commands.json $(KIT)/compile_commands.json

# Does a process listen on the socket? (ss where it exists; else: is there a socket file)
LISTENING = if command -v ss >/dev/null; then ss -xlH | awk '{print $$5}' | grep -qxF '$(abspath $(GDB_SOCK))'; \
	else test -S '$(GDB_SOCK)'; fi

# The `make gdb` line that reaches this QEMU: the same lab, variant and socket (a
# socket given on the command line or in the environment is named, absolute).
GDB_LINE = make gdb LAB=$(LAB)$(if $(SOLUTION), SOLUTION=1,$(if $(SUBMISSION), 'SUBMISSION=$(abspath $(SUBMISSION))'))$(if \
	$(filter-out file,$(origin GDB_SOCK)), 'GDB_SOCK=$(abspath $(GDB_SOCK))')

# A lab with build rules of its own (the ARM lab) runs its own qemu/gdb targets.
OWN_RULES := $(if $(LAB_NAME),$(shell grep -L '^include .*rules\.mk' $(KIT)/labs/$(LAB_NAME)/Makefile 2>/dev/null))
DELEGATE = GDB_LINE="$(GDB_LINE)" $(MAKE) -s -C $(KIT)/labs/$(LAB_NAME) $(1) $(MAKE_VARS) 'PARAMS=$(PARAMS)' 'GDB_SOCK=$(GDB_SOCK)'

ifneq ($(OWN_RULES),)
qemu qemu-gdb gdb: lab-required
	@$(call DELEGATE,$@)
else
qemu: build
	@echo "kit: serial on this terminal; Ctrl-A X quits, Ctrl-A C toggles QEMU's monitor"
	$(if $(QEMU_INTLOG),@echo 'kit: QEMU logs each interrupt and exception to $(abspath $(QEMU_INTLOG))')
	$(INTLOG_CAP) qemu-system-x86_64 $(QEMU_ARGS) $(if $(QEMU_INTLOG),-d int$(,)cpu_reset -D '$(abspath $(QEMU_INTLOG))') \
		$(QEMU_EXTRA) -cdrom $(LAB_BUILD)/kernel.iso || $(INTLOG_SAID)

qemu-gdb: build
	@mkdir -p "$$(dirname '$(GDB_SOCK)')"
	@if $(call LISTENING); then \
		echo 'kit: $(GDB_SOCK) is in use by another QEMU of yours; give both commands GDB_SOCK=<another path>'; exit 1; fi
	@test $$(printf %s '$(abspath $(GDB_SOCK))' | wc -c) -le 107 || { echo "kit: $(abspath $(GDB_SOCK)) is longer than"\
		"a unix socket's path may be (107 bytes): give both commands GDB_SOCK=<a shorter path>"; exit 1; }
	@rm -f '$(GDB_SOCK)'
	@echo "kit: waiting for gdb on $(abspath $(GDB_SOCK)); in another terminal, run:"
	@echo "  $(GDB_LINE)"
	$(INTLOG_CAP) qemu-system-x86_64 $(QEMU_ARGS) -action shutdown=pause -d int,cpu_reset -D '$(patsubst %.sock,%,$(GDB_SOCK)).int.log' \
		-cdrom $(LAB_BUILD)/kernel.iso -gdb 'unix:$(abspath $(GDB_SOCK)),server=on,wait=off' -S || $(INTLOG_SAID)

gdb: lab-required
	@$(call LISTENING) || { echo "kit: no QEMU waits on $(abspath $(GDB_SOCK)): start make qemu-gdb first, with the same LAB, SOLUTION/SUBMISSION and GDB_SOCK"; exit 1; }
	gdb -q -nx -ex 'set architecture i386:x86-64' -ex 'file $(LAB_BUILD)/kernel.elf' \
		$(if $(wildcard $(KIT)/grader/gdb/kit.py),-x $(KIT)/grader/gdb/kit.py) \
		-ex 'target remote $(GDB_SOCK)'
endif

clean:
	rm -rf $(KIT)/build $(KIT)/compile_commands.json

# ---- the course site and releases -----------------------------------------------
#   make handouts                              render handouts/ to build/site/ (pandoc)
#   make handouts-checks                       rewrite each lab handout's generated section
#                                              "What the grader checks" from the lab's tests
#   make dist UPTO=<lab> [PUBLISH=<lab>]       a student release in build/dist/, with the
#                                              solutions course.toml publishes (PUBLISH=:
#                                              those up to that lab instead)
#   make publish LAB=<lab> DIST=<release repo> publish one more solution into a release
#                                              (its solutions/ and its course.toml)
#   make update                                in a student release: fetch and merge what
#                                              the course staff published (git fetch + merge)
.PHONY: handouts dist publish update
handouts:
	@$(PY) $(KIT)/handouts/site/build.py --out $(KIT)/build/site

.PHONY: handouts-checks
handouts-checks:
	@$(PY) $(KIT)/handouts/site/checks.py

dist:
	@$(PY) $(KIT)/grader/course/dist.py release --upto '$(UPTO)' --publish '$(PUBLISH)' --out $(KIT)/build/dist

publish: lab-required
	@$(PY) $(KIT)/grader/course/dist.py publish --lab $(LAB_NAME) --dist '$(DIST)'

# in a student release: fetch and merge the course staff's publication
update:
	@$(PY) $(KIT)/grader/course/update.py

# ---- instructors: a class at once, Gradescope ----------------------------------
#   make grade-class SUBMISSIONS=dir [LAB="01 02"] [OUT=dir] [ROSTER=csv] [COURSE=toml]  grade every
#                                      submission in dir (default: the labs course.toml
#                                      releases); gradebook.csv/.json, canvas.csv, moodle.csv;
#                                      prints what changed since the gradebook it replaces.
#                                      STUDENT="id .." regrades those only (OUT build/grade-class/
#                                      regrade), compared with COMPARE= or the class gradebook;
#                                      PLAGIARISM=1: OUT/plagiarism/<lab>/ for JPlag or MOSS
#   make gradescope [LAB="03 04"] [PUBLISHED=labs]   one autograder zip per lab (default: the
#                                      released labs) in build/gradescope/<lab>.zip, with the
#                                      published solutions of its earlier labs;
#                                      LAB=all: build/gradescope/all-labs.zip grading every lab
#   make course-check                  check course.toml and print what it says
#   make check-course                  the slow course self-test (a class of 30, the GitHub
#                                      workflow, the guides' commands; ~3 min)
.PHONY: grade-class gradescope course-check
grade-class: need
	@test -n '$(SUBMISSIONS)' || { echo "Say where: SUBMISSIONS=<folder of submissions>"; exit 2; }
	@$(PY) $(KIT)/grader/course/batch.py '$(SUBMISSIONS)' $(foreach l,$(LAB),--lab '$(l)') $(if $(OUT),--out '$(OUT)') \
		$(if $(ROSTER),--roster '$(ROSTER)') $(if $(COURSE),--course '$(COURSE)') \
		$(foreach s,$(STUDENT),--only '$(s)') $(if $(COMPARE),--compare '$(COMPARE)') \
		$(if $(PLAGIARISM),--plagiarism)

gradescope:
	@$(PY) $(KIT)/grader/course/gradescope/build.py $(if $(filter all,$(LAB)),--out $(KIT)/build/gradescope/all-labs.zip,\
		--per-lab $(KIT)/build/gradescope $(foreach l,$(LAB),--lab '$(l)')) $(if $(PUBLISHED),--published '$(PUBLISHED)')

course-check:
	@$(PY) $(KIT)/grader/course/config.py

# the slow course self-test: a class of 30 graded with a roster and deadlines (~2 min), the
# GitHub Classroom workflow run on a release, the instructor guides' commands replayed (~1 min)
.PHONY: check-course
check-course: need
	@KIT_COURSE_SLOW=1 $(PY) -m pytest -q -p no:cacheprovider $(KIT)/grader/selftest/test_course_class.py \
		$(KIT)/grader/selftest/test_classroom.py $(KIT)/grader/selftest/test_guides.py

# SOLUTION=1 where a lab's solution is not here (a student release before the
# course staff publish it): say so, instead of make's "No rule to make target".
.PHONY: solution-published
solution-published:
	@$(if $(SOLUTION),for l in $(or $(LAB_NAME),$(LABS)); do test -d '$(KIT)/solutions/'"$$l" || { \
		echo "SOLUTION=1: the solution of $$l is not published in this copy of the kit."; \
		echo "When the course staff publish it 'make update' brings it here; until then grade your own work: make grade LAB=$$l"; \
		exit 2; }; done)
