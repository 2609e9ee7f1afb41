# Simulator tests: cmocka unit tests (tests/unit/<layer>/test_*.c, one program each) and command-line
# tests (tests/cli/test_*.sh, run against $(BIN)/moesim). Other parts add their own in their fragments.
# tests/unit mirrors the code's folders: tests/unit/<layer>/test_<module>.c tests that layer.
UNIT_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BIN := $(foreach s,$(UNIT_SRC),$(BUILD)/tests/$(notdir $(s:.c=)))

define unit_rule
$(BUILD)/tests/$(notdir $(1:.c=)): $(BUILD)/$(1:.c=.o) $(FRONT_LIB) $(SIM_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach s,$(UNIT_SRC),$(eval $(call unit_rule,$(s))))

.PHONY: check-unit check-cli
check-unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do MOESIM_HOME=$(CURDIR) $(SUITE) $(VARIANT)/unit/$$(basename $$t) -- $$t; done

check-cli: $(BIN)/moesim
	@for t in $(sort $(wildcard tests/cli/test_*.sh)); do \
	  MOESIM_HOME=$(CURDIR) BIN=$(BIN) $(SUITE) $(VARIANT)/cli/$$(basename $$t .sh) -- bash $$t; done

# The generic-path switch (engine/kernels_cpu.h): the engine and calibration once more with the
# plain x86-64 kernels, so that path is covered whatever this CPU has (plain build only: the
# sanitizer build fits committed measurements and runs no kernel choice).
.PHONY: check-generic
check-generic: $(BIN)/moesim $(BIN)/moe-engine $(BUILD)/tests/engine/test_engine
ifneq ($(SAN),1)
	@MOESIM_GENERIC=1 OMP_NUM_THREADS=2 MOESIM_HOME=$(CURDIR) $(SUITE) $(VARIANT)/generic/test_engine -- $(BUILD)/tests/engine/test_engine
	@MOESIM_GENERIC=1 MOESIM_HOME=$(CURDIR) BIN=$(BIN) $(SUITE) $(VARIANT)/generic/test_calibrate -- bash tests/cli/test_calibrate.sh
endif

CHECKS += check-layers check-unit check-cli check-generic

# Regenerate the golden outputs after an intended change to the model or the data.
.PHONY: golden
golden: $(BIN)/moesim
	$(BIN)/moesim run scenarios/quickstart.lua --out out/golden | sed "s|out/golden|OUT|" | grep -v ' calibrated/' | tr -s ' ' | sed 's/-\{2,\}/--/g' > tests/golden/quickstart.txt
	$(BIN)/moesim run scenarios/published.lua --out out/golden-published >/dev/null
	jq -r '.cases[] | [.id, (.error_pct * 10 | round / 10)] | @tsv' out/golden-published/published.json > tests/golden/published.tsv
	$(BIN)/moesim run scenarios/local_published.lua --out out/golden-local-published >/dev/null
	jq -r '.cases[] | [.id, (.error_pct * 10 | round / 10)] | @tsv' out/golden-local-published/local_published.json > tests/golden/local_published.tsv
