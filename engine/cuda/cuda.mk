# engine/cuda/cuda.mk: the CUDA backend, included after engine/engine.mk. Always built: the
# host-memory transport and the FP8 codec (plain C, testable without a GPU). Built where nvcc
# is found (and not in the SAN=1 build): the kernels (nvcc), the backend and the NCCL
# transport (C against the CUDA runtime), linked into moe-engine. tests/gpu runs in make test.
#
# Why the sanitizer build leaves CUDA out: AddressSanitizer reserves the address range the CUDA
# driver maps its memory into (cudaGetDeviceCount then fails unless protect_shadow_gap=0), and
# the driver's allocations read as leaks; the kernels would also be compiled a second time.
# The SAN build still runs everything that needs no GPU (the host transport, the FP8 codec, and
# the backend's host code on the fake device, tests/gpu/fake_cuda.c, built in every variant).

# Link line of the host-only fake device test, taken before the CUDA libraries join ENG_LDLIBS.
FAKECUDA_LDLIBS := $(ENG_LDLIBS)

CUDA_ALWAYS_SRC := engine/cuda/transport_host.c engine/cuda/fp8.c engine/cuda/kernels_ref.c
CUDA_ALWAYS_OBJ := $(CUDA_ALWAYS_SRC:%.c=$(BUILD)/%.o)
$(CUDA_ALWAYS_OBJ): CFLAGS += $(MPI_CFLAGS)
$(ENG_LIB): $(CUDA_ALWAYS_OBJ)

CUDA_BUILT :=
ifneq ($(strip $(NVCC)),)
ifneq ($(SAN),1)
CUDA_BUILT := 1
endif
endif

ifeq ($(CUDA_BUILT),1)
# Targets: Ampere (sm_80, also runs on sm_86/87 desktop and Jetson parts), Ada (sm_89),
# Hopper (sm_90a), Blackwell (sm_100, sm_120) where this nvcc knows them, and PTX of the newest
# for GPUs after it. Override with CUDA_ARCHS="90a" for a quick build on one machine.
# The PTX is the newest arch listed with any "a" dropped: arch-specific (sm_90a) code runs only
# on that exact chip, so its PTX is written for the family (compute_90), which later GPUs JIT.
# (Taking the newest arch without an "a" left the PTX arch empty for CUDA_ARCHS="90a".)
# tests/gpu/cuda_mk.sh checks the expansion with `make -n`, without running nvcc.
CUDA_KNOWN := $(shell $(NVCC) --list-gpu-arch 2>/dev/null)
CUDA_ARCHS ?= 80 89 90a $(filter 100 120,$(patsubst compute_%,%,$(CUDA_KNOWN)))
CUDA_PTX   := $(patsubst %a,%,$(lastword $(CUDA_ARCHS)))
ifeq ($(strip $(CUDA_PTX)),)
$(error CUDA_ARCHS is empty: give at least one arch, e.g. CUDA_ARCHS="90a")
endif
NVCC_GENCODE := $(foreach a,$(CUDA_ARCHS),-gencode=arch=compute_$(a),code=sm_$(a)) \
                -gencode=arch=compute_$(CUDA_PTX),code=compute_$(CUDA_PTX)
CUDA_TARGETS := $(foreach a,$(CUDA_ARCHS),sm_$(a)) compute_$(CUDA_PTX)
# --threads 2: the gencode passes compile in parallel on CI's two cores
NVCCFLAGS  ?= -std=c++17 -O3 --threads 2 -Xcompiler -Wall,-Wextra -Werror all-warnings
CUDA_INC   := $(CUDA_HOME)/include
# NCCL lives beside the toolkit on these machines (lib64 -> lib), elsewhere under /usr/lib
NCCL_LIBDIR := $(patsubst %/libnccl.so,%,$(firstword $(wildcard $(CUDA_HOME)/lib64/libnccl.so $(CUDA_HOME)/lib/libnccl.so \
                 /usr/lib/x86_64-linux-gnu/libnccl.so /usr/lib/aarch64-linux-gnu/libnccl.so)))
NCCL_INC   := $(firstword $(wildcard $(CUDA_INC)/nccl.h /usr/include/nccl.h /usr/local/include/nccl.h))
CUDA_DEFS  := -DMOESIM_CUDA '-DMOESIM_CUDA_TARGETS="$(CUDA_TARGETS)"' $(if $(and $(NCCL_LIBDIR),$(NCCL_INC)),-DMOESIM_NCCL)

CUDA_C_SRC := engine/cuda/backend_cuda.c $(if $(and $(NCCL_LIBDIR),$(NCCL_INC)),engine/cuda/transport_nccl.c)
CUDA_OBJ   := $(CUDA_C_SRC:%.c=$(BUILD)/%.o) $(BUILD)/engine/cuda/kernels.o
$(CUDA_C_SRC:%.c=$(BUILD)/%.o) $(BUILD)/engine/main.o $(BUILD)/tests/gpu/%.o: CFLAGS += -I$(CUDA_INC) $(CUDA_DEFS) $(MPI_CFLAGS)
$(CUDA_C_SRC:%.c=$(BUILD)/%.o): CFLAGS += -fopenmp
$(ENG_LIB): $(CUDA_OBJ)

$(BUILD)/engine/cuda/kernels.o: engine/cuda/kernels.cu engine/cuda/kernels.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $(NVCC_GENCODE) -c $< -o $@

CUDA_LIBDIR := $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/lib))
NCCL_LDLIBS := -L$(NCCL_LIBDIR) -Wl,-rpath,$(NCCL_LIBDIR) -lnccl
ENG_LDLIBS += -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcublas -lcublasLt -lcudart \
              $(if $(NCCL_LIBDIR),$(NCCL_LDLIBS)) -lstdc++
GPU_TEST_BIN := $(BUILD)/tests/gpu/test_kernels
endif

# Test programs: the host transport, the FP8 codec and the top-k rule always; the kernels where CUDA is built.
GPU_TEST_BIN += $(BUILD)/tests/gpu/test_transport_host $(BUILD)/tests/gpu/test_fp8 $(BUILD)/tests/gpu/test_topk
.PRECIOUS: $(BUILD)/tests/gpu/%.o
$(BUILD)/tests/gpu/%.o: CFLAGS += $(MPI_CFLAGS)
$(BUILD)/tests/gpu/%: $(BUILD)/tests/gpu/%.o $(ENG_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ENG_LDLIBS)

# The backend's host code on a fake device (tests/gpu/fake_cuda.c), built with or without
# nvcc and in the SAN=1 build: backend_cuda.c compiled again against the fake's headers
# (tests/gpu/fakecuda/, in place of the toolkit's), into objects of its own under
# $(BUILD)/fakecuda so the real build's backend object is untouched. Not MOESIM_NCCL: the fake
# has no NCCL. The test's objects come before the engine library, so the fake's definitions are
# the ones linked even where the library holds the real backend and kernels.
FAKECUDA_OBJ := $(BUILD)/fakecuda/backend_cuda.o $(BUILD)/fakecuda/fake_cuda.o
$(BUILD)/fakecuda/backend_cuda.o: engine/cuda/backend_cuda.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fopenmp -Itests/gpu/fakecuda '-DMOESIM_CUDA_TARGETS="fake device"' -c $< -o $@
$(BUILD)/fakecuda/fake_cuda.o: tests/gpu/fake_cuda.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/tests/gpu/test_fake_cuda: $(BUILD)/tests/gpu/test_fake_cuda.o $(FAKECUDA_OBJ) $(ENG_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FAKECUDA_LDLIBS)
-include $(FAKECUDA_OBJ:.o=.d)
GPU_TEST_BIN += $(BUILD)/tests/gpu/test_fake_cuda

.PHONY: check-gpu
check-gpu: $(BIN)/moe-engine $(BIN)/moesim $(GPU_TEST_BIN)
	@for t in tests/gpu/host_transport.sh tests/gpu/cuda_mk.sh tests/gpu/topk.sh tests/gpu/device_run_check.sh tests/gpu/fake_cuda.sh tests/gpu/cuda.sh; do \
	  MOESIM_HOME=$(CURDIR) BIN=$(BIN) BUILD=$(BUILD) SAN=$(SAN) CUDA_BUILT=$(CUDA_BUILT) \
	  $(SUITE) $(VARIANT)/gpu/$$(basename $$t .sh) -- bash $$t; done

CHECKS += check-gpu
