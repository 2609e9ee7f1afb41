#!/usr/bin/env bash
# arm_cross.sh: the engine's kernels built for 64-bit Arm (the NEON code a Raspberry Pi 5, an
# Ampere or Graviton server runs) and checked against the plain loops under qemu, so an x86
# machine's `make test` covers the Arm build too. Needs an aarch64 cross compiler and
# qemu-aarch64 (Debian: gcc-aarch64-linux-gnu, qemu-user; scripts/ensure-deps.sh installs
# them); skipped, saying why, without them, on an Arm machine (test_engine runs the same cases
# natively there) and in the sanitizer build (the plain build runs it).
set -euo pipefail
cc=${ARM_CC:-aarch64-linux-gnu-gcc}
if [ "${SAN:-0}" = 1 ]; then
  echo "arm_cross: skipped in the sanitizer build (the plain build runs it)"; exit 0
fi
if [ "$(uname -m)" = aarch64 ]; then
  echo "arm_cross: skipped: this is an Arm machine, where test_engine runs these cases natively"; exit 0
fi
if ! command -v "$cc" >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "arm_cross: skipped: no $cc or qemu-aarch64 (Debian: apt-get install gcc-aarch64-linux-gnu qemu-user)"; exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# the flags the Makefile gives the kernels (-O3, contracted multiply-adds), warnings as errors;
# static, so qemu needs no Arm libraries. libgomp's static archive warns about dlopen: only a
# failed link is shown.
if ! "$cc" -std=c11 -O3 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -ffp-contract=fast -Isim -I. \
    -fopenmp -static -o "$out/arm_cross" tests/engine/arm_cross.c tests/engine/kernel_cases.c \
    engine/kernels_cpu.c engine/weights.c engine/alloc.c sim/base/err.c -lm >"$out/log" 2>&1; then
  cat "$out/log"
  echo "FAIL: the engine's kernels do not build for aarch64"
  echo "arm_cross: 0 passed, 1 failed"
  exit 1
fi
OMP_NUM_THREADS=2 qemu-aarch64 "$out/arm_cross"
