# moesim: top-level build.
#   make        builds everything this machine can build (installs missing Debian packages as root)
#   make run    builds, then runs scenarios/quickstart.lua
#   make test   unit + integration tests, then the same tests built with address,undefined sanitizers,
#               then a short libFuzzer pass per input parser (tests/fuzz)
#   make fuzz   each libFuzzer target for FUZZ_SECONDS (default 300)
#   make bench  prints measured speed figures (simulator and engine)
#
# Each part keeps its own rules in a fragment (sim/sim.mk, cli/cli.mk, engine/engine.mk, ...). A fragment
# adds its programs to PROGRAMS, its test runners to CHECKS and its benchmarks to BENCHES.
# SAN=1 builds into build/san with sanitizers; the default build goes to build/rel and bin/.

SAN ?= 0
FUZZ ?= 0
ifeq ($(FUZZ),1)
# libFuzzer targets (tests/fuzz/fuzz.mk): everything compiled by clang with coverage hooks
BUILD    := build/fuzz
BIN      := build/fuzz/bin
CC       := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
            -Wno-unknown-warning-option
else ifeq ($(SAN),1)
BUILD    := build/san
BIN      := build/san/bin
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    := build/rel
BIN      := bin
SANFLAGS :=
endif

CC      ?= gcc
OPT     ?= -O2
# openblas before gsl: GSL's pkg-config adds its reference -lgslcblas, and the first library
# on the line wins the cblas_* symbols.
PKGS    := lua5.4 libcjson openblas gsl cmocka
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null)

# -Wno-format-truncation: error messages live in fixed buffers and may be cut short on
# purpose; paths are length-checked where they are built.
# clang (make CC=clang) knows no -Wformat-truncation, so it passes over warning options it does
# not know; and its default DWARF 5 is more than Debian 12's valgrind (3.19) reads, so
# test_valgrind gets DWARF 4.
CLANG_FLAGS := $(if $(shell $(CC) --version 2>/dev/null | grep -i clang),-Wno-unknown-warning-option -gdwarf-4)
CFLAGS  := -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wno-format-truncation $(CLANG_FLAGS) -D_GNU_SOURCE -MMD -MP -Isim -I. \
           -DMOESIM_SOURCE_DIR='"$(CURDIR)"' $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS := $(SANFLAGS)
LDLIBS  := $(PKG_LIBS) -lm -lpthread

# nvcc is optional: the CUDA backend is built only where the toolkit is present.
NVCC    ?= $(firstword $(wildcard /usr/local/cuda/bin/nvcc) $(shell command -v nvcc 2>/dev/null))
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

# Every suite runs through tests/suite.sh, which appends its tally to $(RESULTS).
VARIANT  := $(notdir $(BUILD))
RESULTS  := $(BUILD)/test-results.txt
SUITE    := bash tests/suite.sh $(RESULTS)

PROGRAMS :=
CHECKS   :=
BENCHES  :=

.PHONY: all deps test-deps build run test check check-suites bench clean
all: deps
	@$(MAKE) --no-print-directory build

deps:
	@scripts/ensure-deps.sh

# the build's packages and the tests' own (one apt-get update at most)
test-deps:
	@scripts/ensure-deps.sh --test

include sim/sim.mk
-include engine/engine.mk
-include engine/cuda/cuda.mk
-include calibrate/calibrate.mk
include cli/cli.mk
include tests/tests.mk
include tests/bench/bench.mk
include tests/fuzz/fuzz.mk

build: $(PROGRAMS)

run: all
	$(BIN)/moesim run scenarios/quickstart.lua --out out/quickstart

# `make test`: the plain build, then the sanitizer build, each running every suite, then the
# short fuzzing pass. Every suite runs even when one fails (tests/suite.sh records its tally);
# the last line is the total, `N passed, N failed`, and the exit status is non-zero when
# anything failed or did not build.
RESULTS_ALL := build/rel/test-results.txt build/san/test-results.txt build/fuzz/test-results.txt
test: test-deps
	@mkdir -p build/rel build/san build/fuzz && rm -f $(RESULTS_ALL)
	@$(MAKE) --no-print-directory -k check-suites || echo "rel/build 0 1" >>build/rel/test-results.txt
	@$(MAKE) --no-print-directory -k SAN=1 OPT=-O1 check-suites || echo "san/build 0 1" >>build/san/test-results.txt
	@$(MAKE) --no-print-directory -k check-fuzz || echo "fuzz/build 0 1" >>build/fuzz/test-results.txt
	@bash tests/summary.sh $(RESULTS_ALL)

# `make check`: one build's suites with their tally (SAN=1 for the sanitizer build).
check:
	@mkdir -p $(BUILD) && rm -f $(RESULTS)
	@$(MAKE) --no-print-directory -k check-suites || echo "$(VARIANT)/build 0 1" >>$(RESULTS)
	@bash tests/summary.sh $(RESULTS)

check-suites: $(PROGRAMS) $(CHECKS)

bench: deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory $(BENCHES)

clean:
	rm -rf build bin out

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
