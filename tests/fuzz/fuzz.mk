# Fuzzing (tests/fuzz): libFuzzer targets built with clang into build/fuzz, with address and
# undefined-behaviour sanitizers. `make fuzz` runs each target for FUZZ_SECONDS (default 300)
# and prints its executions; `make check-fuzz` (part of `make test`) runs each over its seeds
# and the kept crash reproducers, then CHECK_FUZZ_SECONDS (default 30) of new inputs.
# Seeds: the shipped files of each kind, and tests/fuzz/corpus/<target>; a crash found is kept
# as a file in tests/fuzz/regressions/<target>/ so every later run replays it.
FUZZ_TARGETS := model hw calibration trace cli eval
FUZZ_SEEDS_model       := scenarios/models
FUZZ_SEEDS_hw          := hwmodels hwmodels/calibrated
FUZZ_SEEDS_calibration := calibrate/fixtures
FUZZ_SEEDS_trace       := tests/fuzz/corpus/trace
FUZZ_SEEDS_cli         := tests/fuzz/corpus/cli
FUZZ_SEEDS_eval        := tests/fuzz/corpus/cli
# Targets whose code prints its error messages: keep the fuzzer's own report, drop theirs.
FUZZ_QUIET_cli  := -close_fd_mask=3
FUZZ_QUIET_eval := -close_fd_mask=3
FUZZ_SECONDS ?= 300
CHECK_FUZZ_SECONDS ?= 30
FUZZ_DIR := build/fuzz

ifeq ($(FUZZ),1)
FUZZ_BIN := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FRONT_LIB) $(CAL_LIB) $(SIM_LIB)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
.PHONY: fuzz-build
fuzz-build: $(FUZZ_BIN)
endif

# run-fuzz SECONDS: each target, new inputs into a scratch folder (the tree is not changed),
# crash reproducers into build/fuzz/crashes/<target>-*.
define run-fuzz
	@set -e; mkdir -p $(FUZZ_DIR)/crashes; for t in $(FUZZ_TARGETS); do \
	  work=$$(mktemp -d); mkdir -p tests/fuzz/regressions/$$t; \
	  case $$t in model) seeds="$(FUZZ_SEEDS_model)";; hw) seeds="$(FUZZ_SEEDS_hw)";; \
	    calibration) seeds="$(FUZZ_SEEDS_calibration)";; trace) seeds="$(FUZZ_SEEDS_trace)";; \
	    cli) seeds="$(FUZZ_SEEDS_cli)";; eval) seeds="$(FUZZ_SEEDS_eval)";; esac; \
	  case $$t in cli) quiet="$(FUZZ_QUIET_cli)";; eval) quiet="$(FUZZ_QUIET_eval)";; *) quiet="";; esac; \
	  echo "== fuzz_$$t: $(1) s over $$seeds tests/fuzz/regressions/$$t"; \
	  if MOESIM_HOME=$(CURDIR) $(FUZZ_DIR)/fuzz/fuzz_$$t -max_total_time=$(1) -timeout=20 -rss_limit_mb=2048 \
	       -max_len=65536 -print_final_stats=1 $$quiet -artifact_prefix=$(FUZZ_DIR)/crashes/$$t- \
	       $$work tests/fuzz/regressions/$$t $$seeds >$$work.log 2>&1; then \
	    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $$work.log | sed 's/^/   /'; rm -rf $$work $$work.log; \
	  else tail -n 60 $$work.log; echo "fuzz_$$t FAILED: reproducer in $(FUZZ_DIR)/crashes/$$t-*;" \
	       "keep it in tests/fuzz/regressions/$$t/ once fixed"; rm -rf $$work; exit 1; fi; \
	done
endef

.PHONY: fuzz check-fuzz
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	$(call run-fuzz,$(FUZZ_SECONDS))

check-fuzz:
	@if ! command -v clang >/dev/null; then echo "check-fuzz: clang not installed (scripts/ensure-deps.sh installs it)"; exit 1; fi
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	$(call run-fuzz,$(CHECK_FUZZ_SECONDS))
