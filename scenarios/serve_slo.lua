-- serve_slo.lua: "at these request rates, what are p99 TTFT and TPOT, and how much of the
-- traffic meets the SLO?" Mixtral-8x7B in FP8 on one 8-GPU H100 node (attention DP8,
-- experts split 8 ways), Poisson arrivals of requests with log-normal prompt (mean 1,024)
-- and output (mean 256) lengths, rising until the rate is no longer sustainable; the
-- SLO is TTFT <= 1 s and TPOT <= 50 ms for every request.
-- Run: bin/moesim run scenarios/serve_slo.lua --out out/serve_slo

local base = {
  model = "mixtral-8x7b", hw = "h100-sxm", gpus = 8, dp = 8, ep = 8, precision = "fp8",
  isl = 1024, osl = 256, isl_dist = "lognormal", osl_dist = "lognormal",
  slo_ttft_s = 1.0, slo_tpot_s = 0.05, -- no requests: each run is sized from its rate (a steady state)
}

local rows, cdf = {}, {}
for _, rate in ipairs { 2, 5, 10, 20, 40, 80, 160 } do
  local opts = {}
  for k, v in pairs(base) do opts[k] = v end
  opts.rate = rate
  local r = moesim.serve(opts)
  rows[#rows + 1] = {
    rate_rps = rate,
    ttft_p50_s = r.ttft_p50_s, ttft_p99_s = r.ttft_p99_s,
    tpot_p50_ms = r.tpot_p50_s * 1e3, tpot_p99_ms = r.tpot_p99_s * 1e3,
    output_tokens_per_s_per_gpu = r.output_tokens_per_s_per_gpu,
    goodput_rps = r.goodput_requests_per_s, slo_attainment = r.slo_attainment,
    utilization = r.utilization, sustainability = r.sustainability, requests = r.requests,
  }
  if rate == 20 then cdf = r.cdf end
end

local cols = { "rate_rps", "ttft_p50_s", "ttft_p99_s", "tpot_p50_ms", "tpot_p99_ms",
               "output_tokens_per_s_per_gpu", "goodput_rps", "slo_attainment", "utilization", "sustainability", "requests" }
moesim.print(rows, cols)
moesim.write_csv("serve_slo.csv", rows, cols)
moesim.plot { rows = rows, x = "rate_rps", y = "ttft_p99_s", file = "ttft_p99.png",
              title = "Mixtral-8x7B FP8, 8x H100: p99 TTFT against request rate",
              xlabel = "request rate (requests/s)", ylabel = "p99 TTFT (s)", logy = true }
moesim.plot { rows = cdf, x = "latency_s", y = "share", by = "metric", file = "latency_cdf_20rps.png",
              title = "Latency CDFs at 20 requests/s", xlabel = "latency (s, log scale)",
              ylabel = "share of requests (CDF, 0-1)", logx = true }
