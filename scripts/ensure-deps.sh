#!/usr/bin/env bash
# Makes sure the Debian packages moesim builds against are present; with --test (make test),
# also those only the tests use.
# As root it installs what is missing (one apt-get update first); otherwise it prints
# the exact apt-get line and fails, so a build never half-works on a machine without them.
set -euo pipefail

packages=(build-essential pkg-config liblua5.4-dev libcjson-dev libgsl-dev libopenblas-dev
          libopenmpi-dev openmpi-bin libcmocka-dev gnuplot-nox jq valgrind
          clang libclang-rt-dev)  # clang + its libFuzzer runtime: tests/fuzz
# An x86 machine's tests also build the engine's kernels for 64-bit Arm and run them under
# qemu (tests/engine/arm_cross.sh: the Raspberry Pi's code, checked where CI runs).
if [ "${1:-}" = --test ] && [ "$(uname -m)" = x86_64 ]; then
  packages+=(gcc-aarch64-linux-gnu qemu-user)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "moesim: installing missing packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  $line >&2
else
  echo "moesim: missing Debian packages: ${missing[*]}" >&2
  echo "moesim: run as root:  apt-get update && $line" >&2
  exit 1
fi
