# Calibration (calibrate/): libcalibrate.a, linked into moesim (the `calibrate` command lives in
# cli/cmd_calibrate.c) and into its unit test; the command-line test runs through `make
# check-cli` (tests/cli/*.sh). Calibration uses the core (libmoesim.a) and the front ends use
# calibration, so the link order is front, calibrate, core.
CAL_SRC := $(wildcard calibrate/*.c)
CAL_OBJ := $(CAL_SRC:%.c=$(BUILD)/%.o)
CAL_LIB := $(BUILD)/libcalibrate.a

$(CAL_LIB): $(CAL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; $(AR) rcs $@ $^

$(BUILD)/tests/test_calibrate: $(CAL_LIB)
$(BUILD)/tests/test_calibrate: LDLIBS := $(CAL_LIB) $(SIM_LIB) $(LDLIBS)
