# Calibration (calibrate/): libcalibrate.a, linked into moesim (the `calibrate` command) and
# into its unit test; the command-line test runs through `make check-cli` (tests/cli/*.sh).
# The simulator library is named again after libcalibrate.a: calibration calls into it, and a
# static library only resolves what comes after it on the link line.
CAL_SRC := $(wildcard calibrate/*.c)
CAL_OBJ := $(CAL_SRC:%.c=$(BUILD)/%.o)
CAL_LIB := $(BUILD)/libcalibrate.a

$(CAL_LIB): $(CAL_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/moesim: $(CAL_LIB)
$(BIN)/moesim: LDLIBS := $(SIM_LIB) $(LDLIBS)

$(BUILD)/tests/test_calibrate: $(CAL_LIB)
$(BUILD)/tests/test_calibrate: LDLIBS := $(CAL_LIB) $(SIM_LIB) $(LDLIBS)
