-- claim_10x.lua: "GB200 NVL72 is 10x an HGX H200, at a tenth of the cost per token" -- checked
-- on DeepSeek-R1 and Kimi K2 Thinking with moesim.compare{}: each system's Pareto frontier
-- over its layouts (TP x EP x DP, aggregated or with a prefill pool, the weight formats its
-- GPUs support, MTP where the card publishes its acceptance), then the ratios at matched
-- tokens/s per user, with the layout used on each side at every level. Nothing here fixes a
-- layout, and the answer is written from the numbers.
--
-- Systems: HGX H200 = 8 x H200 SXM in one NVLink domain (one node); GB200 NVL72 = 72 GPUs in
-- one NVLink domain (the rack). Prices: the hwmodels' (their `price.source`).

local systems = { "HGX H200=h200:8", "GB200 NVL72=gb200-nvl72:72" }
local cases = {
  -- DeepSeek-R1 ships FP8; NVFP4 is searched where the GPU runs it (natively on Blackwell,
  -- weight-only on Hopper); MTP 0-3 with the card's published acceptance
  { model = "deepseek-r1", tag = "deepseek_r1", precisions = { "fp8", "nvfp4" } },
  -- Kimi K2 Thinking ships INT4 experts (QAT); no MTP module. "native" is the checkpoint as
  -- shipped (int4_g32 routed experts, BF16 shared expert, attention and head); "int4" puts every
  -- weight in INT4, a requantization like nvfp4 and fp8
  { model = "kimi-k2-thinking", tag = "kimi_k2_thinking", precisions = { "native", "int4", "nvfp4", "fp8" } },
}
local isl, osl = 1024, 1024

local all_levels = {}
for _, c in ipairs(cases) do
  local r = moesim.compare { model = c.model, hw = systems, precisions = c.precisions, claim = 10,
                             isl = isl, osl = osl, kv_precision = "fp8" }
  print(("\n== %s, %d in / %d out"):format(c.model, isl, osl))
  for _, s in ipairs(r.systems) do print("  " .. s.name .. ": " .. s.definition) end
  local frontier = {}
  for _, s in ipairs(r.systems) do
    for _, p in ipairs(s.frontier) do frontier[#frontier + 1] = p end
  end
  print("\nfrontiers (the layout of every point):")
  moesim.print(frontier, { "system", "layout", "instance_gpus", "output_tokens_per_s_per_user",
                           "output_tokens_per_s_per_gpu", "usd_per_mtok_output", "joules_per_output_token" })
  print("\nGB200 NVL72 / HGX H200 at matched tokens/s per user:")
  moesim.print(r.levels, { "tps_user", "a_tps_gpu", "b_tps_gpu", "ratio_tps_gpu", "ratio_usd_per_mtok",
                           "ratio_joules_per_token", "a_layout", "b_layout" })
  print("\nanswer: " .. r.answer)
  for _, l in ipairs(r.levels) do
    all_levels[#all_levels + 1] = { model = c.model, tps_user = l.tps_user, ratio_tps_gpu = l.ratio_tps_gpu,
                                    ratio_usd_per_mtok = l.ratio_usd_per_mtok,
                                    ratio_joules_per_token = l.ratio_joules_per_token,
                                    h200_layout = l.a_layout, nvl72_layout = l.b_layout }
  end
  moesim.write_csv(c.tag .. "_frontier.csv", frontier)
  moesim.plot { rows = frontier, x = "output_tokens_per_s_per_user", y = "output_tokens_per_s_per_gpu",
                by = "system", label = "layout", file = c.tag .. "_frontier.png", logx = true, logy = true,
                title = c.model .. ", 1k/1k: throughput per GPU against interactivity, each point's layout",
                xlabel = "interactivity (output tokens/s per user)", ylabel = "output tokens/s per GPU" }
  moesim.plot { rows = frontier, x = "output_tokens_per_s_per_user", y = "usd_per_mtok_output",
                by = "system", label = "layout", file = c.tag .. "_cost.png", logx = true, logy = true,
                title = c.model .. ", 1k/1k: cost per output token against interactivity",
                xlabel = "interactivity (output tokens/s per user)", ylabel = "US$ per million output tokens" }
end

-- one plot of the throughput ratio for both models, and the table behind it
moesim.write_csv("claim_10x_ratios.csv", all_levels)
moesim.plot { rows = all_levels, x = "tps_user", y = "ratio_tps_gpu", by = "model", file = "claim_10x_ratio.png",
              logx = true, logy = true,
              title = "GB200 NVL72 over HGX H200: output tokens/s per GPU at matched interactivity",
              xlabel = "interactivity (output tokens/s per user)", ylabel = "ratio of tokens/s per GPU (NVL72 / H200)" }
print(("\nwrote %s/: *_frontier.png, *_cost.png, claim_10x_ratio.png and CSVs"):format(moesim.out_dir))
