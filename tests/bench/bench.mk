# Benchmarks of the simulator: programs in tests/bench/bench_*.c, linked against libmoesim.
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(FRONT_LIB) $(SIM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-sim
bench-sim: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; MOESIM_HOME=$(CURDIR) taskset -c 0 $$b; done

BENCHES += bench-sim

# The calibration's accuracy and time goals over three quick runs (tests/bench/calibrate_accuracy.sh).
.PHONY: bench-calibrate
bench-calibrate: $(BIN)/moesim $(BIN)/moe-engine
	@BIN=$(BIN) MOESIM_HOME=$(CURDIR) bash tests/bench/calibrate_accuracy.sh

BENCHES += bench-calibrate

# Issue 20's search goal: DeepSeek-V3 x 3 devices x <= 64 GPUs, no routing cache files (tests/bench/search_speed.sh).
.PHONY: bench-search
bench-search: $(BIN)/moesim
	@BIN=$(BIN) MOESIM_HOME=$(CURDIR) bash tests/bench/search_speed.sh

BENCHES += bench-search

# Issue 20's "repeated shapes >= 10x aiconfigurator's compiled engine", side by side with
# aiconfigurator 0.12.0 (tests/bench/aic_compare.sh): run when $(AIC_PYTHON) or /work/venv-aic
# has it, else one line says how to install it (exit 0). Not part of `make test`.
.PHONY: bench-aic
bench-aic:
	@if bash tests/bench/aic_compare.sh --probe; then \
	    $(MAKE) --no-print-directory $(BUILD)/bench/bench_step && \
	    BENCH_STEP=$(BUILD)/bench/bench_step MOESIM_HOME=$(CURDIR) bash tests/bench/aic_compare.sh; fi

BENCHES += bench-aic
