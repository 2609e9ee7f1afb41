# cli.sh: moe-engine on one rank: `check` passes, bad input gets a message naming it and a
# non-zero exit (never a crash), and --json files are written whole or not at all.
set -u
BIN=${BIN:-bin}
eng="$BIN/moe-engine"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect STATUS PATTERN -- ARGS...: exit status and a stderr line matching PATTERN
expect() {
  local want=$1 pat=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -ne "$want" ] || ! grep -q -- "$pat" "$tmp/err"; then
    echo "FAIL: $* -> exit $got (want $want), stderr:"; sed 's/^/    /' "$tmp/err"; fails=$((fails + 1))
  else
    echo "ok: $(grep -m 1 -- "$pat" "$tmp/err" | head -c 120)"
  fi
}

small=(--hidden 40 --ffn 24 --experts 8 --top-k 2 --tokens 1,3 --reps 2 --warmup 1)

"$eng" check --cases 16 >"$tmp/check" 2>&1 || { cat "$tmp/check"; echo "FAIL: moe-engine check"; fails=$((fails + 1)); }
tail -n 1 "$tmp/check"
# every layout whatever this CPU's default: panels (where the tiles prefetch into L1), row-major
# (into L2), and row-major at this CPU's own prefetch (MOESIM_NO_PACK=1; into L1 off Intel)
for env in MOESIM_CPU_PREFETCH=l1 MOESIM_CPU_PREFETCH=l2 MOESIM_NO_PACK=1; do
  env "$env" "$eng" check --cases 16 >"$tmp/check" 2>&1 || { cat "$tmp/check"; echo "FAIL: moe-engine check with $env"; fails=$((fails + 1)); }
  tail -n 1 "$tmp/check"
done

expect 2 "top_k = 9 exceeds experts = 8" -- "$eng" bench --hidden 40 --ffn 24 --experts 8 --top-k 9 --dtype fp32 --tokens 1
expect 2 "hidden = 0" -- "$eng" bench --hidden 0 --ffn 24 --experts 8 --top-k 2 --dtype fp32 --tokens 1
expect 2 "ffn = 0" -- "$eng" bench --hidden 8 --ffn 0 --experts 8 --top-k 2 --dtype bf16 --tokens 1
expect 2 "experts = 0" -- "$eng" bench --hidden 8 --ffn 8 --experts 0 --top-k 0 --dtype bf16 --tokens 1
expect 2 "weights need" -- "$eng" bench --hidden 100000 --ffn 100000 --experts 1000 --top-k 2 --dtype fp32 --tokens 1
# weights that fit in memory but leave nothing for the rest are refused too (issue 12: sizes
# up to the whole memory were accepted and ended in the out-of-memory killer)
mem_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
ffn=$(awk -v kb="$mem_kb" 'BEGIN { printf "%d", kb * 1024 * 0.9 / (3 * 4096 * 4 * 8) }') # 90% of memory, fp32
expect 2 "above 3/4 of this machine" -- "$eng" bench --hidden 4096 --ffn "$ffn" --experts 8 --top-k 2 --dtype fp32 --tokens 1
expect 2 "model llama3.1-8b is dense" -- "$eng" bench --model llama3.1-8b --dtype bf16 --tokens 1
expect 2 "no-such-model" -- "$eng" bench --model no-such-model --dtype bf16 --tokens 1
expect 2 "dtype fp64" -- "$eng" bench "${small[@]}" --dtype fp64
expect 2 "dtype: missing" -- "$eng" bench "${small[@]}"
expect 2 "tokens 1,x" -- "$eng" bench --hidden 8 --ffn 8 --experts 2 --top-k 1 --dtype fp32 --tokens 1,x
expect 2 "unknown option '--bogus'" -- "$eng" bench "${small[@]}" --dtype fp32 --bogus
expect 2 "unknown command 'fly'" -- "$eng" fly
expect 2 "MOESIM_CPU_KERNELS is 'avx9'" -- env MOESIM_CPU_KERNELS=avx9 "$eng" bench "${small[@]}" --dtype fp32
expect 2 "MOESIM_CPU_PREFETCH is 'l3' (expected l1 or l2)" -- env MOESIM_CPU_PREFETCH=l3 "$eng" bench "${small[@]}" --dtype fp32
# scripts/engine_ab.sh (the A/B comparison engine/README.md's figures come from): bad arguments
expect 2 "-n: expected a positive count, got 'x'" -- bash scripts/engine_ab.sh -n x "$eng"
expect 2 "nope: not an executable" -- bash scripts/engine_ab.sh "$eng" "$tmp/nope"
expect 2 "usage:" -- bash scripts/engine_ab.sh
# the bench's text names the kernel level and prefetch target that ran (the JSON has them as
# device.cpu_kernels and device.cpu_prefetch)
if MOESIM_CPU_KERNELS=x86-64 MOESIM_CPU_PREFETCH=l2 "$eng" bench "${small[@]}" --dtype fp32 --no-primitives 2>/dev/null | grep -qE "threads, kernels (x86-64|baseline), prefetch l2$"; then
  echo "ok: bench text names the kernel level and prefetch target"
else
  echo "FAIL: MOESIM_CPU_KERNELS=x86-64 MOESIM_CPU_PREFETCH=l2 bench text does not end its layer line with 'kernels x86-64, prefetch l2'"; fails=$((fails + 1))
fi
# VNNI is named with its level where it runs, and refused where the CPU lacks it. What this
# build runs here, asked of the engine itself (its widest level, with VNNI where it has it): a
# build for another architecture runs only its plain kernels whatever /proc/cpuinfo lists.
top=$("$eng" bench "${small[@]}" --dtype fp32 --no-primitives 2>/dev/null | sed -nE 's/.*threads, kernels ([^,]+), prefetch l[12]$/\1/p' | head -1)
case "$top" in
  x86-64-v4+vnni)
    if MOESIM_CPU_KERNELS=x86-64-v4+vnni "$eng" bench "${small[@]}" --dtype int8 --no-primitives 2>/dev/null | grep -qE "threads, kernels x86-64-v4\+vnni, prefetch l[12]$"; then
      echo "ok: bench text names the VNNI level"
    else
      echo "FAIL: MOESIM_CPU_KERNELS=x86-64-v4+vnni bench text does not end with 'kernels x86-64-v4+vnni, prefetch l1|l2'"; fails=$((fails + 1))
    fi ;;
  x86-64-v4)
    expect 2 "no AVX512-VNNI" -- env MOESIM_CPU_KERNELS=x86-64-v4+vnni "$eng" bench "${small[@]}" --dtype int8 ;;
  x86-64*|baseline)
    # a level above this build's widest is refused (every machine runs the plain kernels)
    expect 2 "this CPU runs at most" -- env MOESIM_CPU_KERNELS=x86-64-v4 "$eng" bench "${small[@]}" --dtype fp32 ;;
  *)
    echo "FAIL: the bench text names no kernel level (got '$top')"; fails=$((fails + 1)) ;;
esac
# --backend cuda is bad input only where CUDA cannot run (not built, or no device)
if "$eng" backends 2>&1 | grep -qE "not built|no CUDA device"; then
  expect 2 "backend cuda" -- "$eng" bench "${small[@]}" --dtype fp32 --backend cuda
fi
# a failed allocation anywhere (each of the first 60, through setup and two forwards) is
# named and exits 1; none crashes or leaks (the sanitizer build runs this too)
bad=0
for n in $(seq 1 60); do
  MOE_ENGINE_FAIL_ALLOC=$n "$eng" bench "${small[@]}" --shared 1 --dtype int8 --no-primitives >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ $rc -ne 1 ] || ! grep -q "out of memory allocating" "$tmp/err"; then
    echo "FAIL: allocation $n failing -> exit $rc"; cat "$tmp/err"; bad=$((bad + 1))
  fi
done
[ $bad -eq 0 ] && echo "ok: allocations 1..60 failing one at a time: each named, exit 1"
fails=$((fails + bad))
expect 1 "out of memory allocating" -- env MOE_ENGINE_FAIL_ALLOC=5 "$eng" check --cases 0

# --json: a directory that does not exist fails with the path named and leaves nothing
expect 1 "$tmp/none/b.json" -- "$eng" bench "${small[@]}" --dtype int8 --no-primitives --json "$tmp/none/b.json"
[ -z "$(ls -A "$tmp/none" 2>/dev/null)" ] || { echo "FAIL: partial JSON left behind"; fails=$((fails + 1)); }
# a file that exists is replaced whole, never left half-written
echo '{"old": true}' >"$tmp/b.json"
if "$eng" bench "${small[@]}" --dtype bf16 --no-primitives --json "$tmp/b.json" >"$tmp/out" 2>"$tmp/err" &&
   jq -e '.backend == "cpu" and .dtype == "bf16" and (.device.cpu | length > 0) and .device.cores >= 1
          and (.moesim_version | length > 0) and (.date | test("^[0-9]{4}-")) and (.command | test("moe-engine bench"))
          and (.results | length == 2) and .results[0].kind == "moe_layer" and .results[0].tokens == 1
          and .results[1].tokens == 3 and .results[0].stages.experts.median_s > 0
          and .results[0].total.p10_s <= .results[0].total.p90_s and .results[0].expert_bytes > 0
          and .results[0].experts_touched == 2 and .results[0].ep == 1 and .results[0].gbs > 0' "$tmp/b.json" >/dev/null &&
   [ "$(ls "$tmp" | grep -c tmp)" -eq 0 ]; then
  echo "ok: --json written whole, fields present"
else
  echo "FAIL: bench --json"; cat "$tmp/err"; fails=$((fails + 1))
fi
# primitives (triad, plain read, GEMM sweep, OpenBLAS on the expert shapes) and the speed-check lines
if "$eng" bench --hidden 64 --ffn 32 --experts 4 --top-k 2 --dtype fp32 --tokens 1,1024 --reps 2 --warmup 1 \
     --json "$tmp/p.json" >"$tmp/out" 2>"$tmp/err" &&
   jq -e '([.results[] | .kind] | index("triad")) != null and ([.results[] | select(.kind == "read" and .gbs > 0)] | length) == 1
          and ([.results[] | select(.kind == "gemm" and .variant == "experts")] | length) == 1
          and ([.results[] | select(.kind == "gemm" and .variant == "single")] | length) == 18' "$tmp/p.json" >/dev/null &&
   grep -q "decode      1 tokens: experts read .* of the plain read$" "$tmp/out" && grep -q "^  plain read: " "$tmp/out" &&
   grep -q "prefill  1024 tokens" "$tmp/out"; then
  echo "ok: primitives and speed checks"
else
  echo "FAIL: bench primitives"; cat "$tmp/out" "$tmp/err"; fails=$((fails + 1))
fi

[ "$fails" -eq 0 ] || { echo "cli.sh: $fails failure(s)"; exit 1; }
