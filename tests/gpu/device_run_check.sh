# device_run_check.sh: the GPU machine's script on this machine. Packs (scripts/pack_gpu_run.sh,
# what is built, into a temporary folder: programs, libraries, a manifest), then runs
# tests/gpu/device_run.sh --dry-run (every step listed, summary written) and, where no GPU is
# present, its real mode (host steps run, GPU steps skip with the reason, exit 0).
set -u
BIN=${BIN:-bin}
if [ "${CUDA_BUILT:-}" != 1 ] || [ "${SAN:-0}" = 1 ] || [ "$BIN" != bin ]; then
  echo "SKIP: the pack needs the CUDA build in bin/ (CUDA_BUILT=${CUDA_BUILT:-}, SAN=${SAN:-0}, BIN=$BIN)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
steps="libraries test_topk test_fp8 test_kernels check_bf16 check_fp8 bench_qwen3-30b-a3b bench_mixtral-8x7b bench_deepseek-v3 calibrate_quick compare_torch"

if PACK_NO_BUILD=1 bash scripts/pack_gpu_run.sh "$tmp/pack" >"$tmp/pack.log" 2>&1; then
  n=$(grep -c ' bin/' "$tmp/pack/MANIFEST.txt")
  [ "$n" -eq 5 ] && grep -q ' lib/libcjson.so.1 ' "$tmp/pack/MANIFEST.txt" && grep -q 'device:libcublas.so' "$tmp/pack/MANIFEST.txt" &&
    ! grep -q ' lib/libc.so.6 ' "$tmp/pack/MANIFEST.txt" && echo "ok: pack: $(tail -n 1 "$tmp/pack.log" | sed 's|/tmp/[^ ]*|DIR|g')" ||
    { bad "pack manifest"; cat "$tmp/pack/MANIFEST.txt"; }
else
  cat "$tmp/pack.log"; bad "scripts/pack_gpu_run.sh"
fi

# summary.json: every step once, with the expected status; failures 0
check_summary() {   # file status-of-gpu-steps
  local f=$1 want=$2 s
  for s in $steps; do
    grep -q "\"step\": \"$s\"" "$f" || { bad "$f: step $s missing"; return; }
  done
  grep -q '"failures": 0,' "$f" || { bad "$f: failures"; return; }
  for s in test_kernels check_bf16 bench_deepseek-v3 calibrate_quick; do
    grep -q "\"step\": \"$s\", \"status\": \"$want\"" "$f" || { bad "$f: $s is not $want"; return; }
  done
  return 0
}
if bash tests/gpu/device_run.sh --dry-run --pack "$tmp/pack" --out "$tmp/dry" >"$tmp/dry.log" 2>&1; then
  check_summary "$tmp/dry/summary.json" dry-run && echo "ok: device_run.sh --dry-run: $(grep -c dry-run "$tmp/dry/summary.txt") steps listed, summary written"
else
  tail -n 20 "$tmp/dry.log"; bad "device_run.sh --dry-run"
fi
if "$BIN/moe-engine" backends 2>/dev/null | grep -q "no CUDA device found"; then
  if bash tests/gpu/device_run.sh --pack "$tmp/pack" --out "$tmp/real" >"$tmp/real.log" 2>&1; then
    check_summary "$tmp/real/summary.json" skip &&
      grep -q '"step": "test_topk", "status": "ok"' "$tmp/real/summary.json" &&
      tar tzf "$tmp/real/results.tar.gz" | grep -q results/summary.json &&
      [ "$(ls "$tmp/real" | wc -l)" -le 8 ] &&
      echo "ok: device_run.sh without a GPU: host steps ran, GPU steps skipped, $(ls "$tmp/real" | wc -l) files out" ||
      bad "device_run.sh without a GPU: summary"
  else
    tail -n 20 "$tmp/real.log"; bad "device_run.sh without a GPU exited non-zero"
  fi
else
  echo "SKIP: a GPU is present: device_run.sh's full run is tests/gpu/README.md's device call, not a unit test"
fi
[ "$fails" -eq 0 ] || { echo "device_run_check.sh: $fails failure(s)"; exit 1; }
