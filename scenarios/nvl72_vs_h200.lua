-- nvl72_vs_h200.lua: where does a GB200 NVL72 rack beat an 8x H200 node for DeepSeek-R1,
-- and by how much? Throughput per GPU against interactivity (tokens/s per user) over a
-- concurrency sweep, and the ratio at matched interactivity.
--
-- Both serve 1,024-token prompts and 1,024-token answers with attention data-parallel and
-- expert parallelism across every GPU; FP8 weights on H200 (no FP4 units on Hopper), NVFP4
-- experts on GB200. Rent: SemiAnalysis InferenceX prices in the hwmodels.

local systems = {
  { name = "8x H200",     hw = "h200",        gpus = 8,  ep = 8,  redundant = 0,  precision = "fp8" },
  -- NVFP4 experts; attention and dense layers in the checkpoint's FP8 (dense_precision "native")
  { name = "GB200 NVL72", hw = "gb200-nvl72", gpus = 72, ep = 72, redundant = 32, precision = "nvfp4", dense = "native" },
}
local per_gpu = { 1, 2, 4, 8, 16, 32, 64, 128, 256 }

local rows = {}
for _, s in ipairs(systems) do
  for _, c in ipairs(per_gpu) do
    local r = moesim.eval {
      model = "deepseek-r1", hw = s.hw, gpus = s.gpus, tp = 1, dp = s.gpus, ep = s.ep,
      redundant_experts = s.redundant, precision = s.precision, dense_precision = s.dense, kv_precision = "fp8",
      isl = 1024, osl = 1024, concurrency = c * s.gpus,
    }
    if r.fits then
      rows[#rows + 1] = {
        system = s.name, users_per_gpu = r.concurrency_served / s.gpus,
        tps_user = r.output_tokens_per_s_per_user, tps_gpu = r.output_tokens_per_s_per_gpu,
        ttft_s = r.ttft_s, usd_per_mtok = r.usd_per_mtok_output, bound = r.bound,
      }
    end
  end
end

moesim.print(rows, { "system", "users_per_gpu", "tps_user", "tps_gpu", "ttft_s", "usd_per_mtok", "bound" })

-- Ratio at matched interactivity: for each H200 point, NVL72's throughput per GPU at the
-- same tokens/s per user, interpolated on its own curve (log-linear between neighbours).
local function curve(name)
  local pts = {}
  for _, r in ipairs(rows) do if r.system == name then pts[#pts + 1] = r end end
  table.sort(pts, function(a, b) return a.tps_user < b.tps_user end)
  return pts
end
local function at(pts, u)
  for i = 1, #pts - 1 do
    local a, b = pts[i], pts[i + 1]
    if u >= a.tps_user and u <= b.tps_user then
      local f = (math.log(u) - math.log(a.tps_user)) / (math.log(b.tps_user) - math.log(a.tps_user))
      return a.tps_gpu + f * (b.tps_gpu - a.tps_gpu)
    end
  end
  return nil
end
local h200, nvl = curve("8x H200"), curve("GB200 NVL72")
local ratios = {}
for _, p in ipairs(h200) do
  local other = at(nvl, p.tps_user)
  if other then
    ratios[#ratios + 1] = { tps_user = p.tps_user, h200_tps_gpu = p.tps_gpu, nvl72_tps_gpu = other,
                            nvl72_over_h200 = other / p.tps_gpu }
  end
end
print("\nthroughput per GPU at matched interactivity (NVL72 / H200):")
moesim.print(ratios, { "tps_user", "h200_tps_gpu", "nvl72_tps_gpu", "nvl72_over_h200" })

moesim.write_csv("nvl72_vs_h200.csv", rows)
moesim.write_csv("nvl72_vs_h200_ratio.csv", ratios)
moesim.plot { rows = rows, x = "tps_user", y = "tps_gpu", by = "system", file = "frontier.png",
              title = "DeepSeek-R1, 1k/1k: throughput per GPU against interactivity",
              xlabel = "interactivity (output tokens/s per user)", ylabel = "output tokens/s per GPU",
              logy = true }
moesim.plot { rows = rows, x = "tps_user", y = "usd_per_mtok", by = "system", file = "cost.png",
              title = "DeepSeek-R1, 1k/1k: cost of output tokens against interactivity",
              xlabel = "interactivity (output tokens/s per user)", ylabel = "US$ per million output tokens",
              logy = true }
print(("\nwrote %s/frontier.png, cost.png and CSVs"):format(moesim.out_dir))
