#!/usr/bin/env bash
# pack_gpu_run.sh [DIR]: builds moesim and moe-engine with CUDA here (the CPU machine, which has
# nvcc) and packs what tests/gpu/device_run.sh needs on a GPU machine that has the CUDA driver
# and runtime but no -dev packages and no package registry: the programs, the test programs,
# and the shared libraries such a machine lacks, into DIR (default gpu-run/, git-ignored), with
# DIR/MANIFEST.txt listing every file (sha256, bytes, role) and every library left to the device.
#
# Which libraries stay behind: the C runtime every Linux machine has (glibc's, libgcc_s,
# libstdc++), and the CUDA libraries a GPU machine's toolkit or PyTorch install carries
# (libcuda, libcudart, libcublas, libcublasLt, libnccl; together over 700 MB, more than the
# 64 MiB a device run may carry). device_run.sh finds those on the device and says which
# are missing. Everything else ldd resolves (OpenBLAS, GSL, Lua, cJSON, OpenMP, Open MPI and
# their dependencies) is copied under its soname.
#
# CUDA_ARCHS: passed to make (default: the full set, engine/cuda/cuda.mk). PACK_NO_BUILD=1:
# pack what is built (for tests).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-gpu-run}
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
say() { echo "pack_gpu_run: $*" >&2; }
die() { say "$*"; exit 2; }

# --- build (CUDA must be in it: a pack without it would only skip on the GPU) ---
if [ "${PACK_NO_BUILD:-0}" != 1 ]; then
  mk=(make -j2 ${CUDA_ARCHS:+CUDA_ARCHS="$CUDA_ARCHS"})
  "${mk[@]}" build >&2 || die "make build failed"
  "${mk[@]}" build/rel/tests/gpu/test_kernels build/rel/tests/gpu/test_topk build/rel/tests/gpu/test_fp8 >&2 ||
    die "building the GPU test programs failed"
fi
progs=(bin/moe-engine bin/moesim build/rel/tests/gpu/test_kernels build/rel/tests/gpu/test_topk build/rel/tests/gpu/test_fp8)
for p in "${progs[@]}"; do [ -x "$p" ] || die "$p is not built (run without PACK_NO_BUILD, on a machine with nvcc)"; done
bin/moe-engine backends 2>/dev/null | grep -q "^cuda: CUDA built" ||
  die "bin/moe-engine was built without CUDA (no nvcc found, or SAN=1): nothing to run on a GPU"

# --- libraries ---
# left to the device: the C runtime and the CUDA libraries (see the header)
device_has='^(linux-vdso|ld-linux-x86-64|ld-linux-aarch64|libc|libm|libpthread|libdl|librt|libutil|libresolv|libgcc_s|libstdc\+\+|libcuda|libcudart|libcublas|libcublasLt|libnccl)\.so'
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/lib"
declare -A packed=() left=()
for p in "${progs[@]}"; do
  cp "$p" "$dir/bin/"
  while read -r name _ path _; do
    [ -n "$name" ] || continue
    if [[ "$name" =~ $device_has ]]; then
      left[$name]=1
    elif [ "${path:-}" = "not" ] || [ -z "${path:-}" ]; then
      die "$p: $name is not found here (ldd): cannot pack it"
    elif [ -z "${packed[$name]:-}" ]; then
      cp -L "$path" "$dir/lib/$name"
      packed[$name]=$path
    fi
  done < <(ldd "$p" | awk '$2 == "=>" { print $1, "=>", $3 } $1 ~ /^\// { n = $1; sub(/.*\//, "", n); print n, "=>", $1 }')
done

# debug sections off the copies (built with -g): the pack must fit in a device run's 64 MiB
command -v strip >/dev/null && strip --strip-debug "$dir"/bin/* "$dir"/lib/* 2>/dev/null

# --- manifest ---
{
  echo "# gpu-run manifest: written by scripts/pack_gpu_run.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# source: $(git describe --always --dirty 2>/dev/null || echo unknown); host: $(uname -srm); $(ldd --version | head -n 1)"
  echo "# $(bin/moe-engine backends 2>/dev/null | grep '^cuda:' | sed 's/, no CUDA device.*//')"
  echo "# sha256 bytes path role"
  for f in "$dir"/bin/* "$dir"/lib/*; do
    rel=${f#"$dir"/}
    case "$rel" in bin/*) role=program ;; *) role="library from ${packed[${rel#lib/}]}" ;; esac
    echo "$(sha256sum "$f" | cut -d ' ' -f 1) $(stat -c %s "$f") $rel $role"
  done
  for n in $(printf '%s\n' "${!left[@]}" | sort); do echo "- - device:$n left to the device"; done
} >"$dir/MANIFEST.txt"
total=$(du -sb "$dir" | cut -f 1)
say "packed ${#progs[@]} programs and ${#packed[@]} libraries into $dir ($((total / 1048576)) MiB); manifest $dir/MANIFEST.txt"
[ "$total" -lt $((60 * 1048576)) ] || say "warning: $((total / 1048576)) MiB: over what a device run may carry with the tree (64 MiB in all)"
