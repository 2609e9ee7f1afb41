local r = moesim.eval { model = "mixtral-8x7b", hw = "h200", isl = 512, osl = 128, concurrency = 8 }
moesim.print({ { tpot = r.tpot_s, fits = r.fits } })
local ok, err = pcall(moesim.eval, { model = "mixtral-8x7b", hw = "h200", tp = 3 })
local m = moesim.model("qwen3-30b-a3b")
return m and err
