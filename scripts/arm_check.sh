#!/usr/bin/env bash
# arm_check.sh: the simulator built for 64-bit Arm (the Raspberry Pi's, an Arm server's build)
# with Debian's cross compiler, its unit tests run under qemu, and the shipped scenarios' outputs
# compared with this machine's build (bin/moesim), byte for byte once paths are set aside; then
# the engine's kernels (tests/engine/arm_cross.sh). For an x86 machine with no Arm board.
#
#   scripts/arm_check.sh
#
# Not part of `make test`: it needs gcc-aarch64-linux-gnu and qemu-user (make test installs
# them on x86), Debian's arm64 libraries, which it downloads once (16 packages, ~13 MB: du -sh build/arm/debs) into
# build/arm/sysroot with `apt-get download` and unpacks there without installing them (the
# arm64 -dev packages are not all co-installable with the amd64 ones: installing
# libgsl-dev:arm64 removes libgsl-dev), and dpkg's arm64 architecture for that download (as
# root: dpkg --add-architecture arm64 && apt-get update). The build is a copy of the work tree
# in build/arm/src. Exits 1 when a suite fails or an output differs, 2 when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD arm=$PWD/build/arm
sysroot=$arm/sysroot src=$arm/src
cc=aarch64-linux-gnu-gcc

for t in "$cc" qemu-aarch64 apt-get dpkg git jq; do
  command -v "$t" >/dev/null || { echo "arm_check: $t not found (Debian: apt-get install gcc-aarch64-linux-gnu qemu-user)" >&2; exit 2; }
done
[ -x bin/moesim ] || { echo "arm_check: bin/moesim not built here (run make first): it is what the Arm build is compared with" >&2; exit 2; }

# --- Debian's arm64 libraries, unpacked (never installed)
pkgs=(liblua5.4-dev liblua5.4-0 libcjson-dev libcjson1 libgsl-dev libgsl27 libgslcblas0 libopenblas-dev
      libopenblas0 libopenblas0-pthread libopenblas-pthread-dev libcmocka-dev libcmocka0 libgfortran5 libgomp1
      libc6)   # qemu runs the programs against this C library (-L), one release with the others
if [ ! -f "$sysroot/.complete" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "arm_check: dpkg has no arm64 architecture to download from (as root: dpkg --add-architecture arm64 && apt-get update)" >&2
    exit 2
  fi
  rm -rf "$sysroot" "$arm/debs" && mkdir -p "$sysroot" "$arm/debs"
  (cd "$arm/debs" && apt-get download "${pkgs[@]/%/:arm64}" >/dev/null 2>&1) ||
    { echo "arm_check: apt-get download of the arm64 libraries failed (is apt-get update done since adding arm64?)" >&2; exit 2; }
  for d in "$arm/debs"/*.deb; do dpkg -x "$d" "$sysroot"; done
  touch "$sysroot/.complete"
fi
lib=$sysroot/usr/lib/aarch64-linux-gnu
libpath=$lib:$lib/openblas-pthread

# --- the work tree as it is (tracked and untracked files git does not ignore), built for Arm
rm -rf "$src" && mkdir -p "$src"
git ls-files -co --exclude-standard -z | tar --null -cf - -T - | tar -xf - -C "$src"
export PKG_CONFIG_SYSROOT_DIR=$sysroot PKG_CONFIG_LIBDIR=$lib/pkgconfig:$lib/openblas-pthread/pkgconfig:$sysroot/usr/share/pkgconfig
mk=(make -C "$src" --no-print-directory CC="$cc" MPI_CFLAGS= MPI_LIBS= NVCC= LDFLAGS="-Wl,-rpath-link=$libpath")
units=$("${mk[@]}" -pn 2>/dev/null | sed -n 's/^UNIT_BIN := //p' | head -n 1)
echo "arm_check: building moesim and $(wc -w <<<"$units") unit suites with $cc ..." >&2
"${mk[@]}" -j"$(nproc)" bin/moesim $units >"$arm/build.log" 2>&1 || { tail -30 "$arm/build.log"; echo "FAIL: the Arm build"; exit 1; }

run_arm() { LD_LIBRARY_PATH=$libpath qemu-aarch64 -L "$sysroot" "$@"; }
fails=0 passed=0

# --- unit tests under qemu
for t in $units; do
  out=$(cd "$src" && MOESIM_HOME=$src MOESIM_CACHE_DIR=$arm/cache run_arm "$t" 2>&1) && rc=0 || rc=$?
  tally=$(grep -E '^\[  (PASSED|FAILED)  \] [0-9]+ test' <<<"$out" | tr '\n' ' ')
  if [ $rc -eq 0 ]; then passed=$((passed + 1)); echo "ok: $(basename "$t"): $tally"
  else fails=$((fails + 1)); echo "FAIL: $(basename "$t") (exit $rc): $tally"; grep -E "ERROR|LINE|FAILED" <<<"$out" | head -10; fi
done

# --- the shipped scenarios and a few evaluations: the same bytes as this machine's build
norm() { sed -e "s|$1|OUT|g" -e "s|$2|HOME|g"; }
cmp_run() {   # NAME CMD...: stdout and written files of the Arm and the native run
  local name=$1; shift
  local a=$arm/out/$name.arm x=$arm/out/$name.x86
  rm -rf "$a" "$x" && mkdir -p "$a" "$x"
  (cd "$src" && MOESIM_HOME=$src MOESIM_CACHE_DIR=$arm/cache run_arm "$src/bin/moesim" "${@//@OUT@/$a/files}") 2>&1 | norm "$a/files" "$src" >"$a/stdout"
  (MOESIM_HOME=$root MOESIM_CACHE_DIR=$arm/cache-x86 bin/moesim "${@//@OUT@/$x/files}") 2>&1 | norm "$x/files" "$root" >"$x/stdout"
  local bad=0
  cmp -s "$a/stdout" "$x/stdout" || bad=1
  if [ -d "$x/files" ]; then
    for f in $(cd "$x/files" && find . -type f | sort); do
      cmp -s <(norm "$a/files" "$src" <"$a/files/$f") <(norm "$x/files" "$root" <"$x/files/$f") || bad=1
    done
  fi
  if [ $bad = 0 ]; then passed=$((passed + 1)); echo "ok: $name: the same output on Arm"
  else fails=$((fails + 1)); echo "FAIL: $name differs on Arm:"; diff "$a/stdout" "$x/stdout" | head -10; fi
}
for s in scenarios/*.lua; do
  cmp_run "$(basename "$s" .lua)" run "$s" --out @OUT@
done
cmp_run eval-dsv3-h200 eval --model deepseek-v3 --hw h200 --gpus 8 --json
cmp_run eval-qwen3-rpi5 eval --model qwen3-30b-a3b --hw rpi5 --precision q3_k_s --json
cmp_run serve-mixtral serve --model mixtral-8x7b --hw h200 --rate 5 --requests 300 --json

echo "arm_check: $passed passed, $fails failed"
# --- the engine's kernels (their own tally)
bash tests/engine/arm_cross.sh || fails=$((fails + 1))
[ $fails -eq 0 ]
