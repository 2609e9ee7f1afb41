# The MoE engine: libmoe-engine.a (CPU backend, reference, MPI transport) and the moe-engine
# command; its tests (tests/engine) and its bench. Engine objects build with MPI's headers and
# OpenMP; the kernels may contract multiply-adds into FMAs (-std=c11 would forbid it).
ENG_SRC := $(filter-out engine/main.c,$(wildcard engine/*.c))
ENG_OBJ := $(ENG_SRC:%.c=$(BUILD)/%.o)
ENG_LIB := $(BUILD)/libmoe-engine.a
ENG_LIBS := $(ENG_LIB) $(SIM_LIB)
# OpenBLAS goes first: GSL's pkg-config line brings -lgslcblas, whose slow reference
# cblas_sgemm would otherwise be the one the dynamic linker binds.
ENG_LDLIBS := -fopenmp $(MPI_LIBS) $(shell pkg-config --libs openblas 2>/dev/null) $(LDLIBS)

$(ENG_OBJ) $(BUILD)/engine/main.o $(BUILD)/tests/engine/%.o: CFLAGS += $(MPI_CFLAGS) -fopenmp
$(BUILD)/engine/kernels_cpu.o: CFLAGS += -ffp-contract=fast
# The kernels at -O3 in the plain build: the tile's accumulators live in registers only once
# its token and row loops are unrolled (at -O2 they stay an array on the stack). Portable:
# the instruction sets are the clones' target attributes, never -march.
ifeq ($(SAN)$(FUZZ),00)
$(BUILD)/engine/kernels_cpu.o: CFLAGS += -O3
endif

$(ENG_LIB): $(ENG_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; $(AR) rcs $@ $^

$(BIN)/moe-engine: $(BUILD)/engine/main.o $(ENG_LIBS)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(ENG_LDLIBS)

$(BUILD)/tests/engine/test_engine: $(BUILD)/tests/engine/test_engine.o $(BUILD)/tests/engine/kernel_cases.o $(ENG_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ENG_LDLIBS)

PROGRAMS += $(BIN)/moe-engine

# The small-batch kernel by itself (tests/engine/bench_tile.c): `make bench-tile`, at the level
# MOESIM_CPU_KERNELS asks for. Not part of `make test` or `make bench`.
$(BUILD)/tests/engine/bench_tile: $(BUILD)/tests/engine/bench_tile.o $(ENG_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ENG_LDLIBS)

.PHONY: bench-tile
bench-tile: $(BUILD)/tests/engine/bench_tile
	@for d in bf16 int8 fp32; do taskset -c 1 $< l2 $$d && $< stream $$d || exit 1; done; $< read && $< hash

# Unit tests, then the command line (bad input, JSON), then expert parallelism under mpirun.
# OMP_NUM_THREADS=2: the CI machine has two cores; more threads would only oversubscribe.
.PHONY: check-engine bench-engine
check-engine: $(BIN)/moe-engine $(BUILD)/tests/engine/test_engine
	@OMP_NUM_THREADS=2 MOESIM_HOME=$(CURDIR) $(SUITE) $(VARIANT)/engine/test_engine -- $(BUILD)/tests/engine/test_engine
	@for t in tests/engine/*.sh; do \
	  MOESIM_HOME=$(CURDIR) BIN=$(BIN) SAN=$(SAN) $(SUITE) $(VARIANT)/engine/$$(basename $$t .sh) -- bash $$t; done

CHECKS += check-engine

# `make bench`: one MoE layer of Qwen3-30B-A3B (all 128 experts, as shipped) in BF16, FP32, INT8
# and INT4_G32, decode and prefill batch sizes, with the primitives the speed checks compare against.
ENG_BENCH_TOKENS ?= 1,4,16,1024
bench-engine: $(BIN)/moe-engine
	@mkdir -p out
	$(BIN)/moe-engine bench --backend cpu --model qwen3-30b-a3b --dtype bf16 --tokens $(ENG_BENCH_TOKENS) --reps 5 --json out/bench-engine-bf16.json
	$(BIN)/moe-engine bench --backend cpu --model qwen3-30b-a3b --dtype fp32 --tokens $(ENG_BENCH_TOKENS) --reps 5 --json out/bench-engine-fp32.json
	$(BIN)/moe-engine bench --backend cpu --model qwen3-30b-a3b --dtype int8 --tokens $(ENG_BENCH_TOKENS) --reps 5 --json out/bench-engine-int8.json
	$(BIN)/moe-engine bench --backend cpu --model qwen3-30b-a3b --dtype int4_g32 --tokens $(ENG_BENCH_TOKENS) --reps 5 --json out/bench-engine-int4_g32.json

BENCHES += bench-engine
