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
ifeq ($(SAN)$(FUZZ),00)
STEP_HOT := $(BUILD)/sim/step/step.o $(BUILD)/sim/step/routing.o $(BUILD)/sim/step/mt.o $(BUILD)/sim/step/comm.o $(BUILD)/sim/model/kernels.o
$(STEP_HOT): CFLAGS += -O3
endif

$(SIM_LIB): $(SIM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; $(AR) rcs $@ $^

# The layering rule, checked on the include graph (tests/check_layers.sh).
.PHONY: check-layers
check-layers:
	@$(SUITE) $(VARIANT)/layers -- bash tests/check_layers.sh
