local ok = pcall(function() return require("os").execute("id") end)
local t = {}
for k, v in pairs(_G) do t[#t + 1] = tostring(k) end
local s = string.rep("x", 10)
local f = load("return 1 + 1")
moesim.print({ { n = #t, s = s, f = f and f() or 0, ok = ok } })
moesim.write_json("x.json", { a = { b = { c = 1 } } })
moesim.write_csv("x.csv", { { a = 1, b = "q" } })
