#!/usr/bin/env bash
# aic_compare.sh: issue 20's goal "repeated shapes: >= 10x aiconfigurator's compiled engine on the
# same work", measured side by side. PAIRS (default 5) pairs, alternating, both pinned to core 0:
# moesim's `bench_step repeated` (BENCH_PLAN_ONLY=1: sim_step_plan_time, the time alone, and
# sim_step_plan_eval, the full breakdown, over 64 DeepSeek-V3 decode shapes on 8 x H200 EP8), then
# tests/bench/aic_compare.py (aiconfigurator 0.12.0's AicEngine on the same shapes:
# decode_step_latency and decode_step_per_op). Evaluations per CPU second; the load average is
# printed with each pair (other work on the machine slows both sides).
#
# aiconfigurator is found at $AIC_PYTHON, else /work/venv-aic/bin/python; without it (or at
# another version) one line says how to install it and the script exits 0. `--probe` only checks.
# A benchmark, not a test: not part of `make test`, never needed by CI.
set -uo pipefail
want=0.12.0
py=${AIC_PYTHON:-/work/venv-aic/bin/python}
here=$(cd "$(dirname "$0")" && pwd)
have=$("$py" -c 'import importlib.metadata as m; print(m.version("aiconfigurator"), m.version("aiconfigurator-core"))' 2>/dev/null)
if [ "$have" != "$want $want" ]; then
    echo "skipped: aiconfigurator $want not installed (python3 -m venv V && V/bin/pip install aiconfigurator==$want; AIC_PYTHON=V/bin/python make bench-aic)"
    [ "${1:-}" = --probe ] && exit 1
    exit 0
fi
[ "${1:-}" = --probe ] && exit 0

bench=${BENCH_STEP:-build/rel/bench/bench_step}
pairs=${PAIRS:-5}
secs=${AIC_SECONDS:-2}
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "repeated decode shapes, DeepSeek-V3 FP8 on 8 x H200, attention DP8 + EP8, 64 shapes (1 + 5i seqs per rank, ctx 2048)"
echo "evaluations per CPU second, pinned to core 0; moesim: $bench repeated; aiconfigurator $want (AicEngine, TensorRT-LLM tables, h200_sxm) via $py"
printf '%-5s %-6s %14s %14s %14s %14s %8s %8s\n' pair load moesim_time aic_latency moesim_eval aic_per_op ratio_t ratio_e
for i in $(seq 1 "$pairs"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    BENCH_PLAN_ONLY=1 MOESIM_HOME=${MOESIM_HOME:-$PWD} "${pin[@]}" "$bench" repeated >"$tmp/m" 2>&1 || { cat "$tmp/m"; exit 1; }
    "${pin[@]}" "$py" "$here/aic_compare.py" "$secs" >"$tmp/a" 2>&1 || { cat "$tmp/a"; exit 1; }
    # bench_step: "... per CPU second: T (N ns each) for the time alone (...), E with the breakdown from a plan"
    mt=$(sed -n 's/.*per CPU second: \([0-9]*\) (.*/\1/p' "$tmp/m")
    me=$(sed -n 's/.*), \([0-9]*\) with the breakdown.*/\1/p' "$tmp/m")
    al=$(awk '$1 == "latency" { print $2 }' "$tmp/a")
    ap=$(awk '$1 == "per_op" { print $2 }' "$tmp/a")
    echo "$mt $al $me $ap" >>"$tmp/all"
    awk -v p="$i" -v l="$load" -v mt="$mt" -v al="$al" -v me="$me" -v ap="$ap" \
        'BEGIN { printf "%-5s %-6s %14d %14d %14d %14d %7.2fx %7.2fx\n", p, l, mt, al, me, ap, mt / al, me / ap }'
done
grep -E '^(compile_cpu_s|per_op_names|step_ms_1 |step_ms_316|python_floor|run_static_ns_per_step)' "$tmp/a" | sed 's/^/aiconfigurator (last run): /'
awk 'function lo(a, b) { return a < b ? a : b } function hi(a, b) { return a > b ? a : b }
     NR == 1 { tmin = tmax = $1 / $2; emin = emax = $3 / $4 }
     { tmin = lo(tmin, $1 / $2); tmax = hi(tmax, $1 / $2); emin = lo(emin, $3 / $4); emax = hi(emax, $3 / $4) }
     END {
       printf "time alone (sim_step_plan_time / decode_step_latency): %.2f-%.2fx (goal >= 10x: %s)\n", tmin, tmax, (tmin >= 10 ? "met" : (tmax >= 10 ? "met in some pairs only" : "NOT met"))
       printf "full breakdown (sim_step_plan_eval / decode_step_per_op): %.2f-%.2fx (goal >= 10x: %s)\n", emin, emax, (emin >= 10 ? "met" : (emax >= 10 ? "met in some pairs only" : "NOT met"))
     }' "$tmp/all"
