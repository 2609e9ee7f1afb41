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
	$(AR) rcs $@ $^

# The layering rule, checked: the core below the report layer takes and returns structs, so
# no file in sim/step, sim/serve or sim/search includes cJSON, Lua or a front end's header,
# and nothing in sim/ includes cli/ or lua/.
.PHONY: check-layers
check-layers:
	@bad=$$(grep -nE '#include *[<"](cjson/|lua|lauxlib|lualib)' sim/step/* sim/serve/* sim/search/* 2>/dev/null; \
	        grep -nE '#include *"(cli|lua|calibrate|engine)/' $$(find sim -name '*.[ch]') 2>/dev/null; true); \
	if [ -n "$$bad" ]; then echo "check-layers: a core file includes a layer above it:"; echo "$$bad"; exit 1; \
	else echo "check-layers: sim/step, sim/serve, sim/search include no cJSON, Lua or front-end header"; fi
