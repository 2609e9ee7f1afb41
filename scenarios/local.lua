-- local.lua: which MoE models run on the devices people own, in which GGUF files, how, and how
-- fast -- issue 14 item 8. For each local device and each MoE model that could plausibly run
-- there, the quantizations people download (llama-quantize's recipes: Q3_K_S, Q4_K_M, Q5_K_M,
-- Q8_0; gpt-oss ships as MXFP4 experts, llama.cpp's MXFP4_MOE), and how the file sits:
--   resident  every weight in the device's memory (GPU memory on the RTX 4090);
--   paged     more than memory holds: llama.cpp mmaps the file, the hot weights stay resident
--             and the rest of the experts are read from the SSD as the page cache misses;
--   cpu experts (RTX 3090/4090/5090) more than GPU memory holds: the routed experts live in the
--             host's RAM and the host CPU computes them, as llama.cpp's --cpu-moe / -ot exps=CPU
--             runs them (--experts-on cpu; the host a Ryzen 9 7950X with 64 GB, the RAM the GPU
--             files' host tier states); beyond that RAM they page from its SSD (the mmap'd file).
-- Generation (tg128) and prompt (pp512) tokens/s are llama-bench's one-sequence tests
-- (moesim.llama_bench), with the shipped priors. A device shows every format that is resident;
-- when none is, the smallest one (paged or cpu experts), since larger files only page more. Models far
-- beyond a device's memory and disk say "does not fit".
--
--   bin/moesim run scenarios/local.lua --out out/local

-- rpi5 is the 16 GB board (also `rpi5-16gb`); xeon-8480-2s runs as llama.cpp runs it by default,
-- on one socket (--numa; `moesim eval ... --numa duplicate` shows the two-socket figures).
local devices = { "rpi5", "rpi5-8gb", "laptop-ddr5", "ryzen-7950x", "ryzen-9950x", "m1-max", "m2-max", "m3-max",
                  "m4-max", "m2-ultra", "m3-ultra", "strix-halo", "dgx-spark", "jetson-agx-orin-64gb", "rtx3090",
                  "rtx4090", "rtx5090", "xeon-8480-2s" }
-- The 671B-1T models plausibly run only where a 4-bit file (~400-600 GB) sits in memory.
local big_devices = { ["m3-ultra"] = true, ["xeon-8480-2s"] = true }
-- A desktop GPU's host: what computes its routed experts when they do not fit the GPU.
local gpu_host = { rtx3090 = "ryzen-7950x", rtx4090 = "ryzen-7950x", rtx5090 = "ryzen-7950x" }

-- Smallest first: the first format that does not fit resident is the one shown for paging.
local k_quants = { "q3_k_s", "q4_k_m", "q5_k_m", "q8_0" }
local models = {
  { name = "qwen3-30b-a3b",      formats = k_quants },
  { name = "gpt-oss-20b",        formats = { "mxfp4_moe" } },  -- OpenAI ships MXFP4 experts; GGUFs keep them
  { name = "deepseek-v2-lite",   formats = k_quants },
  { name = "nemotron-3-nano",    formats = k_quants },
  { name = "mixtral-8x7b",       formats = k_quants },
  { name = "qwen3-next-80b-a3b", formats = k_quants },
  { name = "glm-4.5-air",        formats = k_quants },
  { name = "gpt-oss-120b",       formats = { "mxfp4_moe" } },
  { name = "qwen3-235b-a22b",    formats = k_quants },
  { name = "deepseek-v3",        formats = { "iq2_xxs", "q4_k_m" }, big = true },
  { name = "kimi-k2",            formats = { "iq2_xxs", "q4_k_m" }, big = true },
}

-- How the weights sit, from the fit's tiers: the share of expert bytes beyond the first tier.
local function placement(mem)
  local spill = mem and mem.spill
  if not spill or #spill < 2 or (spill[2].expert_share or 0) <= 0 then return "resident" end
  local slow = spill[#spill]
  local verb = slow.tier:find("SSD") and "paged" or "split"
  return ("%s: %.0f%% of experts in %s"):format(verb, 100 * (1 - spill[1].expert_share), slow.tier)
end

-- On a desktop GPU, a file the GPU does not hold runs as llama.cpp's --cpu-moe: how much of
-- the host's share sits in its RAM (the rest pages from its SSD).
local function cpu_experts_how(e, host, n)
  local pc = e.breakdown and e.breakdown.decode and e.breakdown.decode.host_page_cache
  if pc then
    return ("--n-cpu-moe %d on %s, %.0f%% in RAM"):format(n, host, 100 * pc.host_experts_resident_share)
  end
  return ("--n-cpu-moe %d on %s"):format(n, host)
end

-- The fewest MoE layers whose experts must leave the GPU (llama.cpp's --n-cpu-moe N, as people
-- tune it): the smallest N at which everything else is resident, by bisection (more layers on the
-- host only frees GPU memory). nil when even all of them leave too little.
local function fewest_cpu_layers(opts, host, layers)
  local function resident(n)
    local o = { model = opts.model, hw = opts.hw, precision = opts.precision, host_cpu = host, cpu_moe_layers = n,
                isl = 512, osl = 128, concurrency = 1 }
    local e = moesim.eval(o)
    return e.fits and placement(e.memory) == "resident"
  end
  if not resident(layers) then return nil end
  local lo, hi = 0, layers -- resident(hi); not resident(lo)
  while hi - lo > 1 do
    local mid = (lo + hi) // 2
    if resident(mid) then hi = mid else lo = mid end
  end
  return hi
end

local function run(model, hw, fmt)
  local opts = { model = model, hw = hw, precision = fmt }
  local b = moesim.llama_bench(opts)
  local e = b[1].fits and moesim.eval{ model = model, hw = hw, precision = fmt, isl = 512, osl = 128, concurrency = 1 }
  local host = gpu_host[hw]
  if host and (not b[1].fits or placement(e.memory) ~= "resident") then
    local n = fewest_cpu_layers(opts, host, moesim.model(model).layers)
    if n then
      opts.cpu_moe_layers, opts.host_cpu = n, host
      b = moesim.llama_bench(opts)
      e = b[1].fits and moesim.eval{ model = model, hw = hw, precision = fmt, isl = 512, osl = 128, concurrency = 1,
                                     cpu_moe_layers = n, host_cpu = host }
    end
  end
  local r = { device = hw, model = model, format = fmt, size_gib = b[1].size_gib }
  if not b[1].fits then
    r.how = "does not fit"
    return r, false
  end
  -- the placement the fit chose, for one sequence of llama-bench's length
  r.how = opts.cpu_moe_layers and cpu_experts_how(e, host, opts.cpu_moe_layers) or placement(e.memory)
  r.tg128 = b[2].t_s
  r.pp512 = b[1].t_s
  return r, r.how == "resident"
end

local rows = {}
for _, hw in ipairs(devices) do
  for _, m in ipairs(models) do
    if m.big and not big_devices[hw] then goto next_model end
    local shown, fallback = 0, nil
    for _, fmt in ipairs(m.formats) do
      local r, resident = run(m.name, hw, fmt)
      if resident then
        rows[#rows + 1] = r
        shown = shown + 1
      elseif not fallback then
        fallback = r
      end
    end
    if shown == 0 and fallback then rows[#rows + 1] = fallback end
    ::next_model::
  end
end

local columns = { "device", "model", "format", "size_gib", "how", "tg128", "pp512" }
moesim.print(rows, columns)
moesim.write_csv("local.csv", rows, columns)

-- The question people ask most: Qwen3-30B-A3B on a 16 GB Raspberry Pi 5.
local function find(hw, model, fmt)
  for _, r in ipairs(rows) do
    if r.device == hw and r.model == model and r.format == fmt then return r end
  end
end
local pi = find("rpi5", "qwen3-30b-a3b", "q3_k_s")
local published
for _, c in ipairs(moesim.published("local").rows) do
  if c.id == "M6 tg128" then published = c end
end
print(("\nQwen3-30B-A3B on a Pi 5 16 GB: yes, with a Q3_K_S file (%.1f GiB, %s) at %.1f tok/s generation and %.1f tok/s prompt;")
      :format(pi.size_gib, pi.how, pi.tg128, pi.pp512))
local q4 = moesim.llama_bench{ model = "qwen3-30b-a3b", hw = "rpi5", precision = "q4_k_m" }
print(("  Q4_K_M (%.1f GiB) does not stay resident in the 16 GB and pages from the SSD: %.2f tok/s.")
      :format(q4[1].size_gib, q4[2].t_s))
if published then
  print(("  Published: %.2f tok/s (%s, a %.2f GiB %s file; %s)."):format(published.tok_s, published.device,
        published.file_gib, published.model, published.source))
end
print("\nRead with tests/published/local.json and README \"Local cases\": generation agrees with published")
print("llama-bench rows within ~25%; prompts are mostly fast (MoE prompt processing is where the misses are).")
print("CPU rows run mainline llama.cpp's kernels (--runtime llamacpp; ik_llama.cpp's Zen 4 kernels are")
print("--runtime ik_llamacpp). On the RTX 3090/4090/5090 a file larger than GPU memory runs as llama.cpp's")
print("--cpu-moe: routed experts computed by the host CPU from its RAM (and its SSD beyond that), no")
print("published row checks those yet.")
print("rtx3090, dgx-spark, m1-max, m3-ultra and jetson-agx-orin-64gb (memory only) take priors from dense rows")
print("of their own (tests/published/local.json D4, K1, D51-D55, D59-D60). Devices without one (rpi5-8gb,")
print("ryzen-9950x, m3-max, rtx5090, xeon-8480-2s) carry the priors of the closest shipped device (each file's")
print("efficiency.source); xeon-8480-2s runs one socket, llama.cpp's default (--numa).")
print(("\nwrote %s/local.csv; `moesim eval --model M --hw H --precision F --llama-bench` breaks any row down")
      :format(moesim.out_dir))
