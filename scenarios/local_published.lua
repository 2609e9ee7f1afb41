-- local_published.lua: moesim against the published record of MoE models run the way people
-- run them at home (llama.cpp / ik_llama.cpp llama-bench; tests/published/local.json, each row
-- with its source, device, build and GGUF format). Every MoE row is run with llama-bench's
-- one-sequence tests (moesim.llama_bench) on the row's hwmodel and format, with the shipped
-- priors and no calibration. The device priors were set from the file's dense-model and
-- kernel-level rows only; a MoE row that fed a prior would be marked "fed" (there are none).
-- tests/cli/test_local_published.sh checks the bound and the recorded errors.
--
--   bin/moesim run scenarios/local_published.lua --out out/local_published

local record = moesim.published("local")
local rows, fed_any = {}, false
for _, c in ipairs(record.rows) do
  if c.kind == "moe" and c.hw ~= nil and c.card ~= nil and c.format ~= nil then
    -- llama-bench's test name: ppN or tgN, "@ dD" after a depth (-d D: D tokens already in the cache)
    local kind, n, depth = c.test:match("^(%a%a)(%d+) @ d(%d+)$")
    if not kind then kind, n = c.test:match("^(%a%a)(%d+)$") end
    assert(kind == "pp" or kind == "tg", "local.json row " .. c.id .. ": test must be ppN or tgN, with ' @ dD' after a depth")
    -- llama-bench runs a tg test after an empty prompt and a pp test alone: only the asked one matters
    -- a custom mix named after a file type (M6's ByteShape file) runs at its measured size, each
    -- row on its own runtime's GEMM curves (ik_llama.cpp's CPU kernels are not mainline's), and
    -- its prompt in the micro-batches the source ran (ubatch; null: llama-bench's default, 512)
    local runtime = c.runtime:match("^ik_llama") and "ik_llamacpp" or "llamacpp"
    local bench = moesim.llama_bench{ model = c.card, hw = c.hw, precision = c.format, runtime = runtime,
                                      gguf_file_gib = c.custom_file and c.file_gib or nil, ubatch = c.ubatch,
                                      depth = tonumber(depth),
                                      pp = kind == "pp" and tonumber(n) or 512,
                                      tg = kind == "tg" and tonumber(n) or 128 }
    local sim = bench[kind == "pp" and 1 or 2].t_s
    local fed = #c.fed > 0
    fed_any = fed_any or fed
    rows[#rows + 1] = {
      id = c.id, hw = c.hw, runtime = runtime, format = c.format, test = c.test, moesim = sim, published = c.tok_s,
      error_pct = sim and (sim - c.tok_s) / c.tok_s * 100 or nil,
      size_gib = bench[1].size_gib, published_gib = c.file_gib,
      fed = fed and "FED A PRIOR" or "", source = c.source,
    }
  end
end

moesim.print(rows, { "id", "hw", "runtime", "moesim", "published", "error_pct", "size_gib", "published_gib", "fed" })
local abs = {}
for _, r in ipairs(rows) do
  if r.fed == "" and r.error_pct then abs[#abs + 1] = math.abs(r.error_pct) end
end
table.sort(abs)
local n = #abs
local median = n % 2 == 1 and abs[(n + 1) // 2] or (abs[n // 2] + abs[n // 2 + 1]) / 2
print(("\nmedian absolute error %.0f%%, worst %.0f%%, over %d local MoE cases that fed no prior (shipped priors; no calibration)")
      :format(median, abs[n], n))
if fed_any then print("rows marked FED A PRIOR are excluded from the median") end
moesim.write_json("local_published.json", { cases = rows, median_abs_error_pct = median, worst_abs_error_pct = abs[n] })
