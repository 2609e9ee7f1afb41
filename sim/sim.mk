# The simulator core: libmoesim.a, every sim/<layer>/*.c. Layers, lowest first: base, model,
# deploy, step, serve, search, report; a layer uses only those before it. Front ends (cli/,
# lua/) and the moesim command are in cli/cli.mk.
# Includes are written from sim/ ("step/routing.h") or from the root ("cli/request.h").
SIM_LAYERS := base model deploy step serve search report
SIM_SRC := $(foreach l,$(SIM_LAYERS),$(wildcard sim/$(l)/*.c))
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/%.o)
SIM_LIB := $(BUILD)/libmoesim.a

$(SIM_LIB): $(SIM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; $(AR) rcs $@ $^

# The layering rule, checked on the include graph (tests/check_layers.sh).
.PHONY: check-layers
check-layers:
	@$(SUITE) $(VARIANT)/layers -- bash tests/check_layers.sh
