-- quickstart.lua: three MoE models on five kinds of hardware, from a Raspberry Pi to a
-- GB200 NVL72 rack, in one table. Run with `make run` or `bin/moesim run scenarios/quickstart.lua`.
--
-- Each row serves requests of 1,024 prompt and 256 output tokens. Edge devices serve one
-- user in the GGUF files llama.cpp users run there (below). Data-centre GPUs serve 32 users
-- per GPU at the precision their tensor cores run fastest, in instances as large as the
-- model needs: one GPU for the small models; for DeepSeek-V3 one 8-GPU H200 node
-- (attention data-parallel, experts split 8 ways) or the whole 72-GPU NVLink domain of an
-- NVL72 rack (256 experts + 32 redundant = 4 slots per GPU). Hardware you calibrated
-- (hwmodels/calibrated/) gets rows of its own, marked calibrated/NAME.

-- The GGUF file each edge device runs, per model, as people run them there:
-- - Qwen3-30B-A3B: Q4_K_M, the common 4-bit file, where it fits (laptop, M4 Max); on the 16 GB
--   Pi 5 a Q3_K_S file, the one the published Pi result used (tests/published/local.json M6):
--   Q4_K_M (17 GiB) would not stay resident and would page from the SSD (scenarios/local.lua).
-- - gpt-oss-120b: MXFP4_MOE, the format OpenAI ships the experts in and the GGUFs keep.
-- - DeepSeek-V3: a 2-bit-class file (IQ2_XXS), the smallest that people try on big-memory
--   desktops; it pages from the SSD on every edge device here.
local edge = { ["qwen3-30b-a3b"] = "q4_k_m", ["gpt-oss-120b"] = "mxfp4_moe", ["deepseek-v3"] = "iq2_xxs" }
local pi = { ["qwen3-30b-a3b"] = "q3_k_s", ["gpt-oss-120b"] = "mxfp4_moe", ["deepseek-v3"] = "iq2_xxs" }
local systems = {
  { hw = "rpi5",        precision = pi },
  { hw = "laptop-ddr5", precision = edge },
  { hw = "m4-max",      precision = edge },
  { hw = "h200",        precision = "fp8",   per_gpu = 32 },
  -- NVFP4 experts; attention and dense layers as each checkpoint ships them (FP8 or BF16)
  { hw = "gb200-nvl72", precision = "nvfp4", dense = "native", per_gpu = 32 },
}

-- instance size on data-centre systems, per model
local instance = {
  ["qwen3-30b-a3b"] = { h200 = { gpus = 1 }, ["gb200-nvl72"] = { gpus = 1 } },
  ["gpt-oss-120b"]  = { h200 = { gpus = 1 }, ["gb200-nvl72"] = { gpus = 1 } },
  ["deepseek-v3"]   = { h200 = { gpus = 8, dp = 8, tp = 1, ep = 8 },
                        ["gb200-nvl72"] = { gpus = 72, dp = 72, tp = 1, ep = 72, redundant_experts = 32 } },
}

-- Hardware calibrated on this machine (`moesim calibrate`) joins as one more edge device.
for _, h in ipairs(moesim.hardware_list()) do
  if h.name:find("^calibrated/") then systems[#systems + 1] = { hw = h.name, precision = edge } end
end

local rows = {}
for _, model in ipairs { "qwen3-30b-a3b", "gpt-oss-120b", "deepseek-v3" } do
  for _, s in ipairs(systems) do
    local precision = type(s.precision) == "table" and s.precision[model] or s.precision
    local opts = { model = model, hw = s.hw, precision = precision, dense_precision = s.dense, isl = 1024,
                   osl = 256, concurrency = 1 }
    local inst = instance[model][s.hw]
    if inst then
      for k, v in pairs(inst) do opts[k] = v end
      opts.concurrency = s.per_gpu * inst.gpus
    end
    local r = moesim.eval(opts)
    rows[#rows + 1] = {
      model = model,
      hw = s.hw,
      gpus = r.gpus,
      precision = precision,
      users = r.concurrency_served,
      fits = r.fits,
      tok_s_user = r.output_tokens_per_s_per_user,
      tok_s_gpu = r.output_tokens_per_s_per_gpu,
      ttft_s = r.ttft_s,
      usd_per_mtok_out = r.usd_per_mtok_output,
      cost = r.cost_mode,
      bound = r.bound,
    }
  end
end

local columns = { "model", "hw", "gpus", "precision", "users", "fits", "tok_s_user", "tok_s_gpu",
                  "ttft_s", "usd_per_mtok_out", "cost", "bound" }
moesim.print(rows, columns)
moesim.write_csv("quickstart.csv", rows, columns)
print(("\nwrote %s/quickstart.csv; `moesim eval --model M --hw H ...` breaks any row down"):format(moesim.out_dir))
