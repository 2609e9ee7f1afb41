local rows = moesim.sweep { base = { model = "qwen3-30b-a3b", hw = "laptop-ddr5", precision = "int4", isl = 256, osl = 64 },
                            vary = { concurrency = { 1, 2 } } }
local hw = moesim.hardware("rpi5")
local n = #moesim.models() + #moesim.hardware_list()
moesim.print(rows, { "concurrency", "tpot_s" })
return hw, n, moesim.out_dir
