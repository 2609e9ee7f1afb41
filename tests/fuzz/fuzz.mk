# Fuzzing (tests/fuzz): libFuzzer targets built with clang into build/fuzz, with address and
# undefined-behaviour sanitizers. `make fuzz` runs each target for FUZZ_SECONDS (default 300)
# and prints its executions; `make check-fuzz` (part of `make test`) runs each over its seeds
# and the kept crash reproducers, then CHECK_FUZZ_SECONDS (default 30) of new inputs.
# Seeds: the shipped files of each kind, and tests/fuzz/corpus/<target>; a crash found is kept
# as a file in tests/fuzz/regressions/<target>/ so every later run replays it.
FUZZ_TARGETS := model hw calibration trace cli eval lua
# Seeds and flags per target: tests/fuzz/run.sh.
FUZZ_SECONDS ?= 300
CHECK_FUZZ_SECONDS ?= 30

ifeq ($(FUZZ),1)
FUZZ_BIN := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FRONT_LIB) $(CAL_LIB) $(SIM_LIB)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
.PHONY: fuzz-build
fuzz-build: $(FUZZ_BIN)
endif

.PHONY: fuzz check-fuzz
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do bash tests/fuzz/run.sh $$t $(FUZZ_SECONDS); done

# The short pass of `make test`: each target is a suite in the tally.
check-fuzz:
	@if ! command -v clang >/dev/null; then echo "check-fuzz: clang not installed (scripts/ensure-deps.sh installs it)"; exit 1; fi
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@mkdir -p build/fuzz
	@for t in $(FUZZ_TARGETS); do bash tests/suite.sh build/fuzz/test-results.txt fuzz/$$t -- bash tests/fuzz/run.sh $$t $(CHECK_FUZZ_SECONDS); done
