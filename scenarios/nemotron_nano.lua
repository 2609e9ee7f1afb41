-- nemotron_nano.lua: where Nemotron 3 Nano 30B-A3B fits at 24 GB and below, and how fast
-- (issue 17 item 5). Run with `bin/moesim run scenarios/nemotron_nano.lua`.
--
-- The claim: "Nemotron-3-Nano-30A3B runs on 24GB RAM" (Unsloth's run guide,
-- unsloth.ai/docs/models/nemotron-3, written with NVIDIA for the release; a review quotes it as
-- NVIDIA's recommendation of 24 GB of RAM or VRAM). The guide's condition is its GGUF (a 4-bit
-- llama.cpp file) and one user; it states no context length. Nothing on NVIDIA's own pages was
-- found in the sources searched for this change.
--
-- What the simulator says, per device of 24 GB or less and per format people run: the BF16
-- checkpoint, NVIDIA's FP8 and NVFP4 checkpoints, and the GGUF files (Q8_0, Q4_K_M), where
-- the device runs them (the hwmodel's `formats`).
-- One user, 1,024 prompt and 256 output tokens; then the formats that fit at 1K, at a 128K
-- prompt: the model's 23 Mamba-2 layers hold a constant 49 MB of state per sequence, and only
-- its 6 attention layers grow their KV (6 KB per token in BF16), so context costs little.

local devices = { "rtx4090", "m4-max", "laptop-ddr5", "rpi5" }

-- each format; a device that does not run one (FP8 and NVFP4 on CPUs and Apple GPUs: the
-- hwmodel's `formats`) gets a row saying so, not a number
local formats = { "bf16", "fp8", "nvfp4", "q8_0", "q4_k_m" }

local function eval(hw, fmt, isl)
  local ok, r = pcall(moesim.eval, { model = "nemotron-3-nano", hw = hw, precision = fmt, isl = isl, osl = 256,
                                     concurrency = 1 })
  if not ok and tostring(r):find("does not support", 1, true) then
    return { fits = false, reason = "not supported on " .. hw .. " (its formats)" }
  elseif not ok then
    error(r)
  end
  return r
end

-- share of the weights held in the device's own memory (the rest spilled to host RAM or SSD)
local function fast_share(mem)
  if not mem.spill then return 1 end
  local t0 = mem.spill[1]
  return (t0.expert_share * mem.expert_weights_bytes + t0.other_share * mem.other_weights_bytes) / mem.weights_bytes
end

local function row(hw, r, fmt, isl)
  local mem = r.memory or {}
  return {
    hw = hw,
    format = fmt,
    prompt = isl,
    fits = r.fits,
    weights_gb = mem.weights_bytes and mem.weights_bytes / 1e9,
    in_device = mem.weights_bytes and fast_share(mem),
    state_kv_gb = mem.kv_bytes_per_sequence and mem.kv_bytes_per_sequence / 1e9,
    used_gb = r.memory_per_gpu_bytes and r.memory_per_gpu_bytes / 1e9,
    tok_s_user = r.fits and r.output_tokens_per_s_per_user or nil,
    ttft_s = r.fits and r.ttft_s or nil,
    bound = r.fits and r.bound or r.reason,
  }
end

local rows, fit_1k = {}, {}
for _, hw in ipairs(devices) do
  for _, fmt in ipairs(formats) do
    local r = eval(hw, fmt, 1024)
    rows[#rows + 1] = row(hw, r, fmt, 1024)
    if r.fits then fit_1k[#fit_1k + 1] = { hw = hw, fmt = fmt } end
  end
end
-- the same formats with a 128K prompt, where they fit at 1K
for _, f in ipairs(fit_1k) do
  local r = eval(f.hw, f.fmt, 131072)
  rows[#rows + 1] = row(f.hw, r, f.fmt, 131072)
end

local columns = { "hw", "format", "prompt", "fits", "weights_gb", "in_device", "state_kv_gb", "used_gb", "tok_s_user",
                  "ttft_s", "bound" }
moesim.print(rows, columns)
moesim.write_csv("nemotron_nano.csv", rows, columns)
print(([[

fits: the weights are placed, in the device's memory first and what does not fit in the slower
tier the hwmodel allows (in_device: the share that stayed; the rest is read over PCIe or from the
SSD at every token, and the speed shows it). state_kv_gb: one sequence's 23 Mamba-2 states
(49 MB, whatever the context) and the 6 attention layers' KV. wrote %s/nemotron_nano.csv]]):format(
  moesim.out_dir))
