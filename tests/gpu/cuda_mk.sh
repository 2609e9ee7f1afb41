# cuda_mk.sh: the arch list of engine/cuda/cuda.mk expands into the nvcc -gencode flags and the
# targets string it should, checked on `make -n` output with a stand-in nvcc (nothing is
# compiled, so it runs the same with or without the CUDA toolkit). It caught the documented
# CUDA_ARCHS="90a" build writing "-gencode=arch=compute_,code=compute_".
set -u
# run from `make check-gpu SAN=1` the parent's variables would reach the inner make: drop them
# (make also exports its command-line variables, e.g. CUDA_ARCHS, into the environment)
unset MAKEFLAGS MFLAGS MAKELEVEL CUDA_ARCHS NVCC CUDA_HOME NVCCFLAGS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
mkdir -p "$tmp/cuda/bin"
# a stand-in nvcc that knows the archs of CUDA 13.0 and compiles nothing
cat >"$tmp/cuda/bin/nvcc" <<'NV'
#!/bin/sh
[ "$1" = "--list-gpu-arch" ] && printf 'compute_75\ncompute_80\ncompute_89\ncompute_90\ncompute_100\ncompute_120\n'
exit 0
NV
chmod +x "$tmp/cuda/bin/nvcc"
# lines make would run to build the kernels and the backend, for one CUDA_ARCHS (empty: default)
plan() {
  make -n -B --no-print-directory SAN=0 NVCC="$tmp/cuda/bin/nvcc" CUDA_HOME="$tmp/cuda" BUILD="$tmp/b" BIN="$tmp/bin" \
    ${1:+CUDA_ARCHS="$1"} "$tmp/b/engine/cuda/kernels.o" "$tmp/b/engine/cuda/backend_cuda.o" 2>&1
}
# expect ARCHS GENCODE TARGETS: the nvcc line holds exactly these -gencode flags, in order
expect() {
  local out gen tg
  out=$(plan "$1")
  gen=$(printf '%s\n' "$out" | grep 'nvcc.*kernels\.cu' | grep -o -- '-gencode=[^ ]*' | tr '\n' ' ' | sed 's/ $//')
  tg=$(printf '%s\n' "$out" | grep -o "MOESIM_CUDA_TARGETS=\"[^\"]*\"" | head -n 1)
  if [ "$gen" = "$2" ] && [ "$tg" = "MOESIM_CUDA_TARGETS=\"$3\"" ]; then
    echo "ok: CUDA_ARCHS='${1:-default}' -> $3"
  else
    echo "FAIL: CUDA_ARCHS='${1:-default}'"
    echo "    gencode: $gen"
    echo "    expected $2"
    echo "    targets: $tg (expected $3)"
    printf '%s\n' "$out" | grep -i -e error -e nvcc | head -n 5 | sed 's/^/    /'
    fails=$((fails + 1))
  fi
}
g() { printf -- '-gencode=arch=compute_%s,code=%s ' "$@" | sed 's/ $//'; }
expect "90a" "$(g 90a sm_90a 90 compute_90)" "sm_90a compute_90"
expect "80" "$(g 80 sm_80 80 compute_80)" "sm_80 compute_80"
expect "89 90a" "$(g 89 sm_89 90a sm_90a 90 compute_90)" "sm_89 sm_90a compute_90"
expect "" "$(g 80 sm_80 89 sm_89 90a sm_90a 100 sm_100 120 sm_120 120 compute_120)" \
  "sm_80 sm_89 sm_90a sm_100 sm_120 compute_120"
# an empty list is refused with a message, not turned into a broken nvcc line
out=$(make -n -B --no-print-directory SAN=0 NVCC="$tmp/cuda/bin/nvcc" CUDA_HOME="$tmp/cuda" BUILD="$tmp/b" BIN="$tmp/bin" \
  CUDA_ARCHS=" " "$tmp/b/engine/cuda/kernels.o" 2>&1)
if [ $? -ne 0 ] && printf '%s' "$out" | grep -q "CUDA_ARCHS is empty"; then echo "ok: empty CUDA_ARCHS refused"
else echo "FAIL: empty CUDA_ARCHS: $out" | head -n 3; fails=$((fails + 1)); fi
[ "$fails" -eq 0 ] || { echo "cuda_mk.sh: $fails failure(s)"; exit 1; }
