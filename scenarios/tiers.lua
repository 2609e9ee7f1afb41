-- tiers.lua: the deployment-tier guidance this project was founded on, checked (issue 18).
-- The guidance: ~100 requests/day -> serverless API, $50-150 a month; ~1,000/day -> hybrid,
-- $300-800; 10,000+/day -> self-hosted Mixtral-class MoE on p5.48xlarge (8x H100) spot,
-- $2,000-5,000 a month. For each tier: the hosted API and self-hosted options with their
-- monthly bill at that traffic (every self-hosted replica is paid all month, idle or not),
-- and whether the claimed range holds.
-- Assumptions, stated because the guidance states none: 2,000 prompt and 500 output tokens
-- per request (the issue's procurement example); the peak hour is 2.236x the day's mean
-- (moesim's default peak factor: the Azure LLM inference trace 2024, coding service,
-- weekdays; deploy/cost.h); SLO TTFT <= 2 s and
-- TPOT <= 50 ms (20 tok/s per user). Prices: prices/devices.json and prices/apis.json, each
-- printed row with its date and source; prompt caching and batch discounts are not applied.
-- Run: bin/moesim run scenarios/tiers.lua --out out/tiers

local work = { model = "mixtral-8x7b", isl = 2000, osl = 500, slo_ttft_s = 2, slo_tpot_s = 0.05 }

-- self-hosted options: the guidance's 8x H100 node, and the smallest H100 deployment that holds
-- Mixtral-8x7B (FP8 weights, 47 GB, on one 80 GB H100)
local options = {
  { name = "8x H100 (p5.48xlarge), AWS spot", hw = "h100-sxm", gpus = 8, dp = 8, ep = 8, precision = "fp8", price = "spot:aws" },
  { name = "8x H100, marketplace spot (Vast)", hw = "h100-sxm", gpus = 8, dp = 8, ep = 8, precision = "fp8", price = "spot:vast" },
  { name = "8x H100 (p5.48xlarge), AWS on-demand", hw = "h100-sxm", gpus = 8, dp = 8, ep = 8, precision = "fp8", price = "on-demand:aws" },
  { name = "8x H100, 1-year reserved (CoreWeave)", hw = "h100-sxm", gpus = 8, dp = 8, ep = 8, precision = "fp8", price = "reserved-1y:coreweave" },
  { name = "1x H100 FP8, marketplace spot (Vast)", hw = "h100-sxm", gpus = 1, precision = "fp8", price = "spot:vast" },
  { name = "1x H100 FP8, on-demand (CoreWeave)", hw = "h100-sxm", gpus = 1, precision = "fp8", price = "on-demand:coreweave" },
}

local tiers = {
  { per_day = 100, claim = "serverless API", lo = 50, hi = 150, kind = "api" },
  { per_day = 1000, claim = "hybrid", lo = 300, hi = 800, kind = "any" },
  { per_day = 10000, claim = "self-hosted Mixtral-class, 8x H100 spot", lo = 2000, hi = 5000, kind = "spot8" },
}

local function eval_opts(o, per_day)
  local t = { requests_per_day = per_day }
  for k, v in pairs(work) do t[k] = v end
  for k, v in pairs(o) do if k ~= "name" then t[k] = v end end
  return t
end

local rows, verdicts = {}, {}
for _, tier in ipairs(tiers) do
  local in_range, cheapest = {}, nil
  local function add(option, kind, month, replicas, util, note)
    local row = { requests_per_day = tier.per_day, option = option, usd_per_month = month,
                  replicas = replicas or "", utilization = util or "", note = note or "" }
    rows[#rows + 1] = row
    if month >= tier.lo and month <= tier.hi then
      local counts = tier.kind == "any" or tier.kind == kind
      if counts then in_range[#in_range + 1] = option end
    end
    if not cheapest or month < cheapest.usd_per_month then cheapest = row end
  end
  for _, o in ipairs(options) do
    local r = moesim.eval(eval_opts(o, tier.per_day))
    local b = r.bill
    add(o.name, o.gpus == 8 and o.price:find("^spot") and "spot8" or "self", b.usd_per_month, b.replicas,
        string.format("%.2g%%", 100 * b.utilization),
        string.format("%s %s $%.2f/GPU-h (%s)", r.price.kind, r.price.provider, r.price.usd_per_gpu_hour, r.price.date))
    if o == options[1] then
      for _, a in ipairs(b.hosted_api) do
        add("API: " .. a.provider .. " " .. a.api_model, "api", a.usd_per_month, nil, nil,
            string.format("$%.2f in / $%.2f out per M tokens (%s)", a.usd_per_mtok_input, a.usd_per_mtok_output, a.date))
      end
    end
  end
  verdicts[#verdicts + 1] = {
    requests_per_day = tier.per_day, claim = string.format("%s, $%d-%d/month", tier.claim, tier.lo, tier.hi),
    holds = #in_range > 0 and "yes: " .. table.concat(in_range, "; ") or "no",
    cheapest = string.format("%s at $%.0f/month", cheapest.option, cheapest.usd_per_month),
  }
end

local cols = { "requests_per_day", "option", "usd_per_month", "replicas", "utilization", "note" }
moesim.print(rows, cols)
moesim.write_csv("tiers.csv", rows, cols)
print("")
local vcols = { "requests_per_day", "claim", "holds", "cheapest" }
moesim.print(verdicts, vcols)
moesim.write_csv("tiers_verdict.csv", verdicts, vcols)
