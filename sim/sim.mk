# The simulator core: libmoesim.a, every sim/<layer>/*.c. Layers, lowest first: base, model,
# deploy, step, serve, search, report; a layer uses only those before it. Front ends (cli/,
# lua/) and the moesim command are in cli/cli.mk.
# Includes are written from sim/ ("step/routing.h") or from the root ("cli/request.h").
SIM_LAYERS := base model deploy step serve search report
SIM_SRC := $(foreach l,$(SIM_LAYERS),$(wildcard sim/$(l)/*.c))
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/%.o)
SIM_LIB := $(BUILD)/libmoesim.a

# The step model's hot path (a sweep evaluates it millions of times) at -O3 in the plain build:
# portable (no -march), and the same arithmetic as -O2 (no fast-math; ISO C11 contracts no FMAs).
# Sanitizer and fuzz builds keep their own OPT.
# GCC on x86 clears and copies the step's structs (an operation, ~150 bytes; an accumulator,
# ~420) with `rep stos` / `rep movs`, whose start-up outlasts the clearing on some cores (on
# the AMD EPYC VM of README's Benchmarks, 20-25% of a repeated-shape step in perf's samples);
# -mstringop-strategy=libcall calls the C library's memset/memcpy instead (glibc picks them per
# CPU at load time). A code generation choice on the base ISA, not a CPU feature; used where
# the compiler takes it.
ifeq ($(SAN)$(FUZZ),00)
STEP_STRINGOP := $(shell $(CC) -Werror -mstringop-strategy=libcall -x c -c -o /dev/null /dev/null 2>/dev/null && echo -mstringop-strategy=libcall)
STEP_HOT := $(BUILD)/sim/step/step.o $(BUILD)/sim/step/routing.o $(BUILD)/sim/step/mt.o $(BUILD)/sim/step/comm.o $(BUILD)/sim/model/kernels.o
$(STEP_HOT): CFLAGS += -O3 $(STEP_STRINGOP)
endif

$(SIM_LIB): $(SIM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; $(AR) rcs $@ $^

# The layering rule, checked on the include graph (tests/check_layers.sh).
.PHONY: check-layers
check-layers:
	@$(SUITE) $(VARIANT)/layers -- bash tests/check_layers.sh
