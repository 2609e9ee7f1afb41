#!/usr/bin/env bash
# test_serve.sh: `moesim serve` and `moesim search` as a user meets them: the report, JSON,
# CSV, the latency-CDF and frontier plots, moesim.serve{} / moesim.search{} in Lua, and bad
# input (exit status 2 with a message naming the problem: malformed traces with line and
# column, non-positive rates and lengths, an SLO nothing meets, a search space too large).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

Q=(--model qwen3-30b-a3b --hw h100-sxm --precision fp8)

# --- serve: report, JSON, files
"$M" serve "${Q[@]}" --rate 5 --requests 300 --isl 512 --osl 64 --slo-ttft-s 0.5 --slo-tpot-s 0.02 >"$tmp/rep"
grep -q "TTFT s" "$tmp/rep" && grep -q "goodput" "$tmp/rep" && grep -q "sustainable" "$tmp/rep" && ok ||
  bad "serve report lacks TTFT / goodput / sustainability: $(cat "$tmp/rep")"
"$M" serve "${Q[@]}" --rate 5 --requests 300 --isl 512 --osl 64 --json \
  --csv "$tmp/sum.csv" --requests-csv "$tmp/req.csv" --timeline-csv "$tmp/tl.csv" --plot "$tmp/cdf.png" >"$tmp/j"
[ "$(jq .completed "$tmp/j")" = 300 ] && ok || bad "serve --json: completed != 300"
jq -e '.sustainable == true and .ttft_p99_s > 0 and .tpot_p50_s > 0 and (.timeline | length) > 10' "$tmp/j" >/dev/null &&
  ok || bad "serve --json lacks fields"
jq -e '(.little.rel_error) < 1e-9' "$tmp/j" >/dev/null && ok || bad "Little's law off in the JSON"
[ "$(wc -l <"$tmp/req.csv")" -eq 301 ] && ok || bad "requests CSV: $(wc -l <"$tmp/req.csv") lines, expected 301"
head -1 "$tmp/sum.csv" | grep -q "ttft_p99_s" && ok || bad "summary CSV header lacks ttft_p99_s"
head -1 "$tmp/tl.csv" | grep -q "in_system" && ok || bad "timeline CSV header lacks in_system"
[ -s "$tmp/cdf.png" ] && [ "$(head -c 4 "$tmp/cdf.png" | tail -c 3)" = PNG ] && ok || bad "CDF plot is not a PNG"

# issue 15: without --requests the run is sized from the rate and reaches a steady state
# (the JSON says so); an explicit count that is too short is kept, warned about on stderr,
# and never called sustainable
"$M" serve "${Q[@]}" --rate 5 --isl 512 --osl 64 --json >"$tmp/dj" 2>"$tmp/derr"
jq -e '.requests_sized == true and .requests >= 2000 and .steady_state == true and .sustainable == true and
       .warmup_s > 0 and .cooldown_s > 0 and .window_requests > 1000' "$tmp/dj" >/dev/null && [ ! -s "$tmp/derr" ] &&
  ok || bad "default serve run: $(jq -c '{requests, steady_state, sustainability, note}' "$tmp/dj") $(cat "$tmp/derr")"
"$M" serve "${Q[@]}" --rate 5 --isl 512 --osl 64 >"$tmp/drep"
grep -q "run sized from the rate" "$tmp/drep" && grep -q "measured window: arrivals" "$tmp/drep" && ok ||
  bad "default serve report lacks the size and the window: $(head -5 "$tmp/drep")"
"$M" serve "${Q[@]}" --rate 5 --requests 50 --isl 512 --osl 64 --json >"$tmp/sj" 2>"$tmp/serr"
jq -e '.requests == 50 and .requests_sized == false and .steady_state == false and .sustainable == null and
       .sustainability == "undetermined"' "$tmp/sj" >/dev/null && grep -q "warning: no steady state" "$tmp/serr" &&
  ok || bad "a short serve run: $(jq -c '{requests, steady_state, sustainable}' "$tmp/sj") $(cat "$tmp/serr")"

# a trace, with a header and a comment
printf 'arrival_s,input_tokens,output_tokens\n# warm-up\n0,100,10\n0.5,2000,50\n1.0,300,20\n' >"$tmp/t.csv"
"$M" serve "${Q[@]}" --trace "$tmp/t.csv" --json >"$tmp/tj"
[ "$(jq -r .arrival "$tmp/tj")" = trace ] && [ "$(jq .completed "$tmp/tj")" = 3 ] && ok || bad "trace replay"

# saturation: the report says the rate is not sustainable
"$M" serve "${Q[@]}" --rate 3000 --requests 2000 --isl 1024 --osl 128 >"$tmp/sat"
grep -q "not sustainable" "$tmp/sat" && ok || bad "saturating rate not flagged: $(tail -2 "$tmp/sat")"

# issue 12: an absurd rate overflowed the sustainability windows' index (out-of-bounds
# writes, a run that never ended). The largest rate the option allows must finish, flagged
# not sustainable; a rate past it is refused by name (the unit test test_absurd_rate drives
# the simulator itself at 1e22).
timeout 60 "$M" serve --model deepseek-v3 --hw h200 --gpus 8 --dp 8 --rate 1e9 >"$tmp/huge" 2>&1 &&
  grep -q "not sustainable" "$tmp/huge" && ok || bad "serve --rate 1e9: $(tail -2 "$tmp/huge")"
expect_fail 2 "option 'rate' must be <= 1e\+09" -- timeout 60 "$M" serve --model deepseek-v3 --hw h200 --gpus 8 --dp 8 --rate 1e20

# a trace longer than --requests is cut, and the output says so (issue 12: it was silent)
{ echo "arrival_s,input_tokens,output_tokens"; for i in $(seq 1 30); do echo "$i,100,10"; done; } >"$tmp/long.csv"
"$M" serve "${Q[@]}" --trace "$tmp/long.csv" --requests 20 | grep -q "the trace holds 10 more requests than the 20 simulated" \
  && ok || bad "a cut trace is not reported"
[ "$("$M" serve "${Q[@]}" --trace "$tmp/long.csv" --requests 20 --json | jq .trace_requests_not_simulated)" = 10 ] \
  && ok || bad "trace_requests_not_simulated missing from the JSON"

# issue 15: speculative decoding shows in serve as in eval (drafter, draft tokens, verified rows,
# accepted tokens per step and the acceptance's source), and the acceptance defaults to the
# card's published figure in eval, serve and search alike
D=(--model deepseek-v3 --hw h200 --gpus 8 --tp 8 --rate 2 --requests 300)
"$M" serve "${D[@]}" --spec-tokens 1 --json >"$tmp/spj" 2>/dev/null
"$M" serve "${D[@]}" --spec-tokens 1 --spec-accept 1.875 --json >"$tmp/spj_given" 2>/dev/null
"$M" serve "${D[@]}" --json >"$tmp/spj_off" 2>/dev/null
jq -e '.speculative.method == "mtp" and .speculative.draft_tokens == 1 and .speculative.verify_tokens_per_sequence == 2
       and .speculative.accepted_tokens_per_step == 1.875
       and (.speculative.acceptance_source | test("arXiv:2412.19437"))' "$tmp/spj" >/dev/null &&
  ok || bad "serve --json lacks the speculative decoding it applied: $(jq -c .speculative "$tmp/spj")"
jq -e -s '.[0].tpot_mean_s == .[1].tpot_mean_s and .[1].speculative.acceptance_source == "option spec_accept"
          and .[0].tpot_mean_s < .[2].tpot_mean_s and (.[2] | has("speculative") | not)' \
  "$tmp/spj" "$tmp/spj_given" "$tmp/spj_off" >/dev/null &&
  ok || bad "serve's default acceptance is not the card's figure: $(jq -c -s 'map([.tpot_mean_s, .speculative.accepted_tokens_per_step])' \
    "$tmp/spj" "$tmp/spj_given" "$tmp/spj_off")"
"$M" eval --model deepseek-v3 --hw h200 --gpus 8 --tp 8 --spec-tokens 1 --json >"$tmp/spe"
jq -e -s '.[0].speculative.accepted_tokens_per_step == .[1].speculative.accepted_tokens_per_step and
          .[0].speculative.acceptance_source == .[1].speculative.acceptance_source' "$tmp/spj" "$tmp/spe" >/dev/null &&
  ok || bad "eval and serve take different acceptances"
"$M" serve "${D[@]}" --spec-tokens 1 --prefix-hit 0.5 >"$tmp/sptext" 2>/dev/null
grep -q "^speculative decoding (MTP): 1 draft token, 2 verified per sequence, 1.875 accepted tokens per step" \
  "$tmp/sptext" && grep -q "^acceptance source: DeepSeek-V3 Technical Report" "$tmp/sptext" &&
  grep -q "^prefix cache: 50% of each prompt hit" "$tmp/sptext" && ok ||
  bad "serve's text lacks speculative decoding or the prefix cache: $(head -5 "$tmp/sptext")"
# the simulator's credit is exact in 1/den (den <= 1000): a card's decimal is simulated as it is
# (1.875 = 15/8), an acceptance that is no such fraction is rounded to 1/1000 and says so
jq -e '.speculative.accepted_tokens_per_step_simulated == 1.875 and .speculative.acceptance_rounded == false' \
  "$tmp/spj" >/dev/null && ok || bad "serve --json: the simulated acceptance is not the card's: $(jq -c .speculative "$tmp/spj")"
! grep -q "^simulated at" "$tmp/sptext" && ok || bad "serve's text says an exact acceptance was rounded"
"$M" serve "${D[@]}" --spec-tokens 1 --spec-accept 1.23456 --json 2>/dev/null >"$tmp/spround"
jq -e '.speculative.accepted_tokens_per_step == 1.23456 and .speculative.accepted_tokens_per_step_simulated == 1.235
       and .speculative.acceptance_rounded == true' "$tmp/spround" >/dev/null && ok ||
  bad "serve --json: a rounded acceptance is not flagged: $(jq -c .speculative "$tmp/spround")"
"$M" serve "${D[@]}" --spec-tokens 1 --spec-accept 1.23456 2>/dev/null |
  grep -q "^simulated at 247/200 = 1.235 accepted tokens per step" && ok ||
  bad "serve's text does not say the acceptance was rounded"
"$M" serve "${D[@]}" --prefix-hit 0.5 --json 2>/dev/null | jq -e '.prefix_hit == 0.5' >/dev/null && ok ||
  bad "serve --json lacks prefix_hit"
"$M" serve --help | grep -A1 -- "--spec-accept" | grep -q "eval, serve and search alike" && ok ||
  bad "serve --help: --spec-accept's default is not the card's figure: $("$M" serve --help | grep -A1 -- --spec-accept)"

# ... and in search: the space's drafter and acceptance once (text and JSON), each row's draft
# tokens and accepted tokens per step (compare's row keys), and the same in Lua's results
SR=(search --model deepseek-v3 --hw h200 --min-gpus 8 --max-gpus 8 --concurrency-per-gpu 4 --spec-tokens 1)
"$M" "${SR[@]}" --json >"$tmp/srj" 2>/dev/null
jq -e '.speculative.accepted_tokens_per_step == 1.875 and (.speculative.acceptance_source | test("arXiv:2412.19437"))
       and (.frontier | length) > 0 and all(.frontier[]; .spec_tokens == 1 and .spec_accept == 1.875)' "$tmp/srj" \
  >/dev/null && ok || bad "search --json lacks the speculative decoding: $(jq -c '[.speculative, .frontier[0]]' "$tmp/srj")"
"$M" "${SR[@]}" 2>/dev/null | grep -q "^speculative decoding (MTP): 1 draft token, 2 verified per sequence, 1.875" &&
  ok || bad "search's text lacks the speculative decoding"
cat >"$tmp/spec.lua" <<'LUA'
local base = { model = "deepseek-v3", hw = "h200", gpus = 8, tp = 8, spec_tokens = 1 }
local e = moesim.eval(base)
local s = moesim.serve { model = "deepseek-v3", hw = "h200", gpus = 8, tp = 8, spec_tokens = 1, rate = 2,
                         requests = 300 }
local f = moesim.search { model = "deepseek-v3", hw = "h200", min_gpus = 8, max_gpus = 8, spec_tokens = 1,
                          concurrency_per_gpu = { 4 } }
for _, r in ipairs { e, s, f } do
  assert(r.speculative and r.speculative.method == "mtp" and r.speculative.accepted_tokens_per_step == 1.875
         and r.speculative.acceptance_source:find("2412.19437", 1, true), "speculative decoding not reported")
end
assert(f.frontier[1].spec_accept == 1.875, "search rows lack spec_accept")
print("lua spec ok")
LUA
"$M" run "$tmp/spec.lua" --out "$tmp/luaspec" 2>"$tmp/lserr" | grep -q "lua spec ok" && ok ||
  bad "Lua eval/serve/search speculative: $(cat "$tmp/lserr")"

# --- serve: bad input
printf '0,100,10\n0.5,1x0,20\n' >"$tmp/bad.csv"
expect_fail 2 "bad.csv:2:5: input_tokens must be a number" -- "$M" serve "${Q[@]}" --trace "$tmp/bad.csv"
printf '0,100,10\n0.5,100\n' >"$tmp/short.csv"
expect_fail 2 "short.csv:2:1: expected 3 columns" -- "$M" serve "${Q[@]}" --trace "$tmp/short.csv"
printf '1,100,10\n0.5,100,10\n' >"$tmp/order.csv"
expect_fail 2 "order.csv:2:1: arrival times must not decrease" -- "$M" serve "${Q[@]}" --trace "$tmp/order.csv"
expect_fail 2 "rate' must be a positive" -- "$M" serve "${Q[@]}" --rate 0
expect_fail 2 "rate' must be a positive" -- "$M" serve "${Q[@]}" --rate -2
expect_fail 2 "isl and osl must be >= 1" -- "$M" serve "${Q[@]}" --rate 1 --osl 0
expect_fail 2 "requests' must be >= 1" -- "$M" serve "${Q[@]}" --rate 1 --requests -5
expect_fail 2 "needs .* tokens of KV cache" -- "$M" serve "${Q[@]}" --rate 1 --requests 2 --isl 20000000
expect_fail 2 "spec_accept" -- "$M" serve "${Q[@]}" --rate 1 --spec-tokens 1 --spec-accept 4
expect_fail 2 "unknown option '--bogus'" -- "$M" serve "${Q[@]}" --bogus 1
expect_fail 2 "no such file|No such file" -- "$M" serve "${Q[@]}" --trace "$tmp/missing.csv"

# --- search: frontier, plots, cheapest, refusals
"$M" search --model mixtral-8x7b --hw h100-sxm,h200 --max-gpus 8 --precision fp8 --isl 512 --osl 128 \
  --json --csv "$tmp/front.csv" --plot "$tmp/front.png" --cost-plot "$tmp/cost.svg" >"$tmp/fj" 2>/dev/null
jq -e '(.frontier | length) > 4 and ([.frontier[].hw] | unique | length) == 2' "$tmp/fj" >/dev/null && ok ||
  bad "frontier: expected points for both hardware"
jq -e '[.frontier[] | select(.hw == "h200") | .output_tokens_per_s_per_gpu] as $y |
       ($y | length) < 2 or ([range(1; $y | length) | select($y[.] > $y[. - 1])] | length) == 0' "$tmp/fj" >/dev/null &&
  ok || bad "frontier: tokens/s per GPU must fall as interactivity rises"
[ -s "$tmp/front.png" ] && grep -q "<svg" "$tmp/cost.svg" && ok || bad "frontier plots not written"
"$M" search --model mixtral-8x7b --hw h100-sxm --max-gpus 8 --precision fp8 --isl 512 --osl 128 \
  --rate 10 --slo-ttft-s 1 --slo-tpot-s 0.05 --requests 300 --json >"$tmp/cj" 2>/dev/null
jq -e '.met == true and .best.simulated.meets_slo == true' "$tmp/cj" >/dev/null && ok || bad "cheapest: no config met"
expect_fail 2 "no configuration meets the SLO.*closest: " -- "$M" search --model mixtral-8x7b --hw h100-sxm \
  --max-gpus 2 --precision fp8 --rate 10 --slo-tpot-s 0.0001 --requests 200
grep -q "closest" "$tmp/out" && ok || bad "unmet SLO: stdout does not show the closest configuration"
expect_fail 2 "space holds [0-9]+ evaluations.*above the limit of 20000" -- "$M" search --model deepseek-v3 \
  --hw h100-sxm,h200,b200 --max-gpus 64 --precision fp8,nvfp4 --max-batched-tokens 2048,4096,8192
expect_fail 2 "above the limit of 10" -- "$M" search --model mixtral-8x7b --hw h100-sxm --max-gpus 8 --limit 10
expect_fail 2 "unknown hw|did you mean|h100" -- "$M" search --model mixtral-8x7b --hw h100-sxmm
expect_fail 2 "max-batched-tokens' values must be positive integers|values must be positive integers" -- \
  "$M" search --model mixtral-8x7b --hw h100-sxm --max-batched-tokens 4096,abc
expect_fail 2 "goal' must be frontier or cheapest" -- "$M" search --model mixtral-8x7b --hw h100-sxm --goal best

# --- Lua
cat >"$tmp/s.lua" <<'LUA'
local r = moesim.serve { model = "qwen3-30b-a3b", hw = "h100-sxm", precision = "fp8", rate = 4,
                         isl = 256, osl = 32 }
assert(r.requests_sized and r.completed == r.requests and r.steady_state and r.sustainable == true and #r.cdf > 0,
       "serve result (a run sized from the rate)")
local short = moesim.serve { model = "qwen3-30b-a3b", hw = "h100-sxm", precision = "fp8", rate = 4,
                             requests = 20, isl = 256, osl = 32 }
assert(short.completed == 20 and short.sustainable == nil and short.sustainability == "undetermined",
       "20 requests cannot show a steady state")
moesim.plot { rows = r.cdf, x = "latency_s", y = "share", by = "metric", file = "cdf.png", logx = true }
local f = moesim.search { model = "mixtral-8x7b", hw = { "h100-sxm", "h200" }, max_gpus = 4,
                          precisions = { "fp8" }, isl = 256, osl = 64 }
assert(#f.frontier > 0, "frontier")
local ok, err = pcall(moesim.serve, { model = "qwen3-30b-a3b", hw = "h100-sxm", rate = -1 })
assert(not ok and err:find("rate"), "bad rate must raise")
print("lua ok")
LUA
"$M" run "$tmp/s.lua" --out "$tmp/lua" 2>"$tmp/lerr" | grep -q "lua ok" && [ -s "$tmp/lua/cdf.png" ] && ok ||
  bad "Lua serve/search: $(cat "$tmp/lerr")"

# --engine brings its scheduler's limits (vLLM max_num_seqs 1024 and graphs to 512 on an H100,
# SGLang page size 1 and graphs to 160, TensorRT-LLM 32-token blocks and batch 2048); an option
# the user gives wins; without --engine the defaults stay
sched() { "$M" serve --model qwen3-30b-a3b --hw h100-sxm --precision fp8 --rate 5 --requests 200 "$@" --json 2>/dev/null |
          jq -c '[.scheduler.block_tokens, .scheduler.max_num_seqs, .scheduler.cuda_graph_max]'; }
[ "$(sched --engine vllm)" = "[16,1024,512]" ] && [ "$(sched --engine sglang)" = "[1,0,160]" ] &&
  [ "$(sched --engine trtllm)" = "[32,2048,512]" ] && [ "$(sched --engine vllm --max-num-seqs 64)" = "[16,64,512]" ] &&
  [ "$(sched)" = "[16,0,512]" ] && ok || bad "serve --engine scheduler defaults: $(sched --engine vllm) $(sched --engine sglang)"

# --- serve prints the bill (issue 18 item 1): a daily traffic is simulated at its peak on the
# replicas eval sizes for it, and billed as eval bills it, from the simulated throughput
B=(--model mixtral-8x7b --hw h100-sxm --precision fp8 --isl 2000 --osl 500 --slo-ttft-s 2 --slo-tpot-s 0.05)
"$M" serve "${B[@]}" --requests-per-day 10000 --price spot:vast --json >"$tmp/sb" 2>/dev/null
"$M" eval "${B[@]}" --requests-per-day 10000 --price spot:vast --json >"$tmp/eb"
jq -s -e '.[0].bill as $s | .[1].bill as $e |
  $s.replicas == $e.replicas and $s.usd_per_month == $e.usd_per_month and $s.usd_per_day == $e.usd_per_day
  and (($s.usd_per_month - $s.replicas * 1.49 * 730) | fabs < 0.01) and $s.kwh_per_month == $e.kwh_per_month
  and (($s.usd_per_mtok_output_at_load / $e.usd_per_mtok_output_at_load - 1) | fabs < 0.05)
  and (($s.utilization - $s.mean_requests_per_s / $s.capacity_requests_per_s) | fabs < 1e-12)
  and $s.simulated_at_peak.served_requests_per_s > 0 and $s.simulated_at_peak.busy_share > 0
  and (($s.peak_requests_per_s - 10000 / 86400 * $s.peak_factor) | fabs < 1e-9)
  and ($s.hosted_api | length >= 1) and .[0].price.provider == "vast" and $s.meets_slo' "$tmp/sb" "$tmp/eb" >/dev/null \
  && ok || bad "serve bill differs from eval's: $(jq -c .bill "$tmp/sb") vs $(jq -c .bill "$tmp/eb")"
"$M" serve "${B[@]}" --requests-per-day 10000 --price spot:vast 2>/dev/null >"$tmp/sbt"
grep -q "^bill (every replica paid all month" "$tmp/sbt" && grep -q "^simulated: 1 replica at the peak" "$tmp/sbt" \
  && grep -q "^hosted API for the same traffic" "$tmp/sbt" && grep -q "^price: spot, vast" "$tmp/sbt" \
  && ok || bad "serve text lacks the bill block: $(tail -8 "$tmp/sbt")"
# a rate with --price: the bill of that constant load (peak factor 1), $/Mtok from the measured tokens
"$M" serve "${B[@]}" --rate 0.5 --price on-demand --json 2>/dev/null | jq -e '.bill.requests_per_day == 43200
  and .bill.peak_factor == 1 and .bill.replicas == 1 and (.bill.usd_per_month - 2.23 * 730 | fabs < 0.01)
  and ((.bill.usd_per_mtok_output_at_load * .bill.simulated_at_peak.output_tokens_per_s * 3600 / 1e6
        / (.bill.usd_per_hour * (.bill.mean_requests_per_s / .bill.simulated_at_peak.served_requests_per_s)) - 1
        | fabs) < 0.05)' >/dev/null && ok || bad "serve --rate --price: no constant-load bill"
# without --price no bill is printed at a plain rate
"$M" serve "${B[@]}" --rate 0.5 --json 2>/dev/null | jq -e 'has("bill") | not' >/dev/null && ok || bad "bill without --price"
expect_fail 2 "options 'rate' and 'requests_per_day' both given" -- "$M" serve "${B[@]}" --rate 1 --requests-per-day 100
expect_fail 2 "option 'peak_factor' must be >= 1" -- "$M" serve "${B[@]}" --requests-per-day 100 --peak-factor 0.5
expect_fail 2 "option 'requests_per_day' must be >= 0" -- "$M" serve "${B[@]}" --requests-per-day -3

# the same in Lua: moesim.serve{} carries the bill, moesim.search{} the replicas
cat >"$tmp/bill.lua" <<'LUA'
local r = moesim.serve { model = "mixtral-8x7b", hw = "h100-sxm", precision = "fp8", isl = 2000, osl = 500,
                         requests_per_day = 1000, price = "spot:vast" }
assert(r.bill.replicas == 1 and math.abs(r.bill.usd_per_month - 1.49 * 730) < 0.01 and r.price.provider == "vast")
local s = moesim.search { model = "qwen3-30b-a3b", hw = "m4-max", max_gpus = 2, isl = 2000, osl = 500,
                          slo_ttft_s = 3, slo_tpot_s = 0.1, requests_per_day = 10000, confirm = 1 }
assert(s.best.replicas >= 2 and s.best.utilization > 0 and s.best.total_gpus == s.best.replicas * s.best.gpus)
print("lua bill ok")
LUA
"$M" run "$tmp/bill.lua" --out "$tmp/luabill" 2>"$tmp/lberr" | grep -q "lua bill ok" && ok \
  || bad "Lua serve/search bill: $(cat "$tmp/lberr")"

echo "test_serve.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
