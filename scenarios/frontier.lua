-- frontier.lua: the chart procurement teams compare hardware with: output tokens/s per
-- GPU against tokens/s per user, the Pareto frontier over every split (TP x EP x PP x
-- attention-DP) of up to 8 GPUs and every concurrency, one curve per hardware; then the
-- same configurations' cost per million output tokens; then the cheapest deployment that
-- serves 10 requests/s with p99 TTFT <= 2 s and TPOT <= 40 ms (confirmed by simulation).
-- Mixtral-8x7B, FP8 weights, 1,024 prompt / 256 output tokens.
-- Run: bin/moesim run scenarios/frontier.lua --out out/frontier

local base = { model = "mixtral-8x7b", precision = "fp8", isl = 1024, osl = 256 }
local hw = { "h100-sxm", "h200", "b200" }

local opts = { hw = hw, max_gpus = 8 }
for k, v in pairs(base) do opts[k] = v end
local f = moesim.search(opts)
print(string.format("%d configurations (%d splits rejected, %d do not fit), %d points, %d on the frontier",
  f.configurations, f.skipped_invalid, f.skipped_no_fit, f.points, #f.frontier))
moesim.print(f.frontier, { "hw", "gpus", "split", "concurrency", "output_tokens_per_s_per_user",
                           "output_tokens_per_s_per_gpu", "usd_per_mtok_output" })
moesim.write_csv("frontier.csv", f.frontier)
moesim.plot { rows = f.frontier, x = "output_tokens_per_s_per_user", y = "output_tokens_per_s_per_gpu",
              by = "hw", file = "frontier.png",
              title = "Mixtral-8x7B FP8, isl 1024 / osl 256: throughput against interactivity (Pareto)",
              xlabel = "interactivity (output tokens/s per user)", ylabel = "output tokens/s per GPU" }
moesim.plot { rows = f.frontier, x = "output_tokens_per_s_per_user", y = "usd_per_mtok_output",
              by = "hw", file = "cost.png", logy = true,
              title = "Mixtral-8x7B FP8: cost against interactivity (Pareto configurations, rent)",
              xlabel = "interactivity (output tokens/s per user)",
              ylabel = "US$ per million output tokens (log scale)" }

local c = { hw = hw, max_gpus = 8, goal = "cheapest", rate = 10, slo_ttft_s = 2, slo_tpot_s = 0.04,
            requests = 1500 }
for k, v in pairs(base) do c[k] = v end
local best = moesim.search(c)
print(best.message)
