# Front ends: the command line (cli/) and Lua scenarios (lua/) build libmoesim-front.a; the
# moesim command is cli/main.c linked against it, calibration and the core. Included after
# calibrate/calibrate.mk (the link line names its library).
FRONT_SRC := $(filter-out cli/main.c,$(wildcard cli/*.c)) $(wildcard lua/*.c)
FRONT_OBJ := $(FRONT_SRC:%.c=$(BUILD)/%.o)
FRONT_LIB := $(BUILD)/libmoesim-front.a

$(FRONT_LIB): $(FRONT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; $(AR) rcs $@ $^

$(BIN)/moesim: $(BUILD)/cli/main.o $(FRONT_LIB) $(CAL_LIB) $(SIM_LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

PROGRAMS += $(BIN)/moesim
