-- published.lua: moesim against published MoE serving measurements
-- (../shared/reference/measurements.md, sources in each row). Every case is run under the
-- conditions its source states, with the shipped spec-sheet priors, and no rule written
-- for any single case. tests/cli/test_published.sh checks the stated tolerance.
--
--   bin/moesim run scenarios/published.lua --out out/published

local cases = {
  { id = "M1", what = "Mixtral-8x7B FP8, MLPerf v4.1 Offline, 8x H100 (TRT-LLM)",
    source = "mlcommons/inference_results_v4.1 closed/NVIDIA DGX-H100_H100-SXM-80GBx8_TRT mixtral-8x7b Offline",
    metric = "output_tokens_per_s_per_gpu", published = 52415.9 / 8,
    -- Eight one-GPU replicas (the FP8 model fits one H100). Mean output 146 tokens; the mean
    -- prompt of the MLPerf mixed dataset is not in the reference: 600 tokens is assumed.
    opts = { model = "mixtral-8x7b", hw = "h100-sxm", gpus = 1, replicas = 8, precision = "fp8",
             kv_precision = "fp8", isl = 600, osl = 146, concurrency = 8 * 2048 } },
  { id = "M2", what = "same, 8x H200",
    source = "mlcommons/inference_results_v4.1 closed/NVIDIA H200-SXM-141GBx8_TRT mixtral-8x7b Offline",
    metric = "output_tokens_per_s_per_gpu", published = 59022.3 / 8,
    opts = { model = "mixtral-8x7b", hw = "h200", gpus = 1, replicas = 8, precision = "fp8",
             kv_precision = "fp8", isl = 600, osl = 146, concurrency = 8 * 2048 } },
  { id = "M3 decode", what = "DeepSeek-V3 decode, 72x H100 EP72, DP attention, two-batch overlap (SGLang)",
    source = "lmsys.org/blog/2025-05-05-large-scale-ep (22,282 output tok/s per node of 8)",
    metric = "tokens_per_s_per_gpu", published = 22282 / 8,
    opts = { model = "deepseek-v3", hw = "h100-sxm", gpus = 72, tp = 1, dp = 72, ep = 72,
             redundant_experts = 32, precision = "fp8", overlap = "two-batch",
             phase = "decode", batch = 256, context = 2000 } },
  { id = "M3 prefill", what = "DeepSeek-V3 prefill 1K, 32x H100 EP32, two-batch overlap (SGLang)",
    source = "lmsys.org/blog/2025-05-05-large-scale-ep (57,674 input tok/s per node at 1K)",
    metric = "tokens_per_s_per_gpu", published = 57674 / 8,
    -- 16 prompts of 1,024 tokens per device per iteration (16,384 tokens; assumed). EPLB
    -- with 32 redundant experts (9 slots per GPU) as the decode side: the reference lists
    -- EPLB for the deployment and the blog credits it with 1.49x on prefill.
    opts = { model = "deepseek-v3", hw = "h100-sxm", gpus = 32, tp = 1, dp = 32, ep = 32,
             redundant_experts = 32,
             precision = "fp8", overlap = "two-batch", max_batched_tokens = 16384,
             phase = "prefill", batch = 16, context = 1024 } },
  -- NVIDIA's FP4 DeepSeek-R1 checkpoint quantizes the routed experts to NVFP4; attention and
  -- the dense layers keep the published checkpoint's FP8 (dense_precision = "native").
  { id = "M4", what = "DeepSeek-R1 FP4, 8x B200, DP8 EP8, FP8 KV, 1k/2k, concurrency 7168 (TRT-LLM)",
    source = "NVIDIA/TensorRT-LLM docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md",
    metric = "output_tokens_per_s_per_gpu", published = 5393,
    opts = { model = "deepseek-v3", hw = "b200", gpus = 8, tp = 1, dp = 8, ep = 8, precision = "nvfp4",
             dense_precision = "native", kv_precision = "fp8", isl = 1024, osl = 2048, concurrency = 7168 } },
  { id = "M4 user", what = "same, tokens/s per user",
    source = "same",
    metric = "output_tokens_per_s_per_user", published = 6.18,
    opts = { model = "deepseek-v3", hw = "b200", gpus = 8, tp = 1, dp = 8, ep = 8, precision = "nvfp4",
             dense_precision = "native", kv_precision = "fp8", isl = 1024, osl = 2048, concurrency = 7168 } },
  { id = "M8", what = "DeepSeek-R1 FP4, 8x B200, DP8 EP8, concurrency 3072, 1,536 tokens per iteration (TRT-LLM)",
    source = "TensorRT-LLM tech blog 3 (~4,600); the same blog's earlier revision: 4,501 with these settings",
    metric = "output_tokens_per_s_per_gpu", published = 4600,
    opts = { model = "deepseek-v3", hw = "b200", gpus = 8, tp = 1, dp = 8, ep = 8, precision = "nvfp4",
             dense_precision = "native", kv_precision = "fp8", isl = 1024, osl = 2048, concurrency = 3072, max_batched_tokens = 1536 } },
  -- One user, speculative decoding off and on (TensorRT-LLM's min-latency runs). The blog's MTP
  -- table was measured at its "EP4TP2" stage (253 TPS/user, `--tp 8 --ep 4`): attention TP8,
  -- experts EP4 x TP2; NVFP4 experts and dense FFNs, BF16 attention. The acceptance (2.82
  -- tokens per step, strict top-1) is the blog's own measurement, a condition of the case.
  -- tests/cli/test_published.sh also checks the MTP / no-MTP ratio (2.28) within 15%.
  { id = "T1 no MTP", what = "DeepSeek-R1 FP4, 8x B200 TP8 EP4, batch 1, 1k/2k, no MTP (TensorRT-LLM min-latency)",
    source = "NVIDIA/TensorRT-LLM docs/source/blogs/tech_blog/blog1_Pushing_Latency_Boundaries_Optimizing_DeepSeek-R1_Performance_on_NVIDIA_B200_GPUs.md, table 'Autoregressive MTP Layers'",
    metric = "output_tokens_per_s_per_user", published = 111,
    opts = { model = "deepseek-r1", hw = "b200", gpus = 8, tp = 8, ep = 4, precision = "nvfp4",
             dense_precision = "bf16", isl = 1024, osl = 2048, concurrency = 1 } },
  { id = "T1 MTP 3", what = "same, MTP 3 draft tokens, 2.82 accepted tokens per step",
    source = "same table: MTP 3, acceptance rate 2.82, 253 TPS/user (2.28x)",
    metric = "output_tokens_per_s_per_user", published = 253,
    opts = { model = "deepseek-r1", hw = "b200", gpus = 8, tp = 8, ep = 4, precision = "nvfp4",
             dense_precision = "bf16", isl = 1024, osl = 2048, concurrency = 1,
             spec_tokens = 3, spec_accept = 2.82 } },
}

local rows = {}
for _, c in ipairs(cases) do
  local r = moesim.eval(c.opts)
  local sim = r[c.metric]
  rows[#rows + 1] = {
    id = c.id, what = c.what, metric = c.metric, moesim = sim, published = c.published,
    error_pct = (sim - c.published) / c.published * 100, bound = r.bound, source = c.source,
  }
end

moesim.print(rows, { "id", "metric", "moesim", "published", "error_pct", "bound", "what" })
local abs = {}
for i, r in ipairs(rows) do abs[i] = math.abs(r.error_pct) end
table.sort(abs)
local n = #abs
local median = n % 2 == 1 and abs[(n + 1) // 2] or (abs[n // 2] + abs[n // 2 + 1]) / 2
print(("\nmedian absolute error %.0f%% over %d cases (shipped priors; no calibration)"):format(median, n))
moesim.write_json("published.json", { cases = rows, median_abs_error_pct = median })
