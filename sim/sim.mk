# The simulator: libmoesim.a (every sim/*.c but main.c) and the moesim command.
SIM_SRC := $(filter-out sim/main.c,$(wildcard sim/*.c))
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/%.o)
SIM_LIB := $(BUILD)/libmoesim.a

$(SIM_LIB): $(SIM_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/moesim: $(BUILD)/sim/main.o $(SIM_LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

PROGRAMS += $(BIN)/moesim
