# Values from the command line and the environment are data, never shell.
# Included first by the Makefile and by labs/common.mk, before anything
# expands them. The recipes pass each path or name on inside single quotes,
# so a space works; a value holding what a single-quoted word cannot carry
# (' " $ ` \ or a newline) is refused here, with the variable's name.
# Only values given from outside are checked (the kit's own defaults use $).
CHECKED_VALUES += SUBMISSION SUBMISSIONS DIST GRADESCOPE OUT LAB TEST PARAMS GDB_SOCK V INTLOG \
	UPTO PUBLISH PUBLISHED BUILD TMPDIR

define value_newline


endef
# unsafe_value(var): the characters of var's unexpanded value that are refused
unsafe_value = $(strip $(foreach c,' " ` \,$(if $(findstring $(c),$(value $(1))),$(c))) \
	$(if $(findstring $$,$(value $(1))),$$) \
	$(if $(findstring $(value_newline),$(value $(1))),newline))
# given_outside(var): non-empty when var comes from the command line or the environment
given_outside = $(filter command environment,$(firstword $(origin $(1))))

$(foreach v,$(CHECKED_VALUES),$(if $(call given_outside,$(v)),$(if $(call unsafe_value,$(v)),\
	$(error $(v): the value holds $(call unsafe_value,$(v)); the kit passes paths and names to \
	commands as data and takes none holding ' " $$ ` \ or a newline: rename it or choose another))))
