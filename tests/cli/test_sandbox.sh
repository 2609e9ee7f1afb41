#!/usr/bin/env bash
# test_sandbox.sh: `moesim run` as an attacker meets it: every way out of the Lua sandbox
# (os, io, package, debug, string.dump, binary chunks, dofile/loadfile), tables nested to
# overflow the C side, runaway loops and memory, writes that try to leave the output folder,
# errors that name the function called, and no leaks when a binding raises (valgrind).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# scenario NAME 'LUA...': write $tmp/NAME.lua
scenario() { printf '%s\n' "$2" >"$tmp/$1.lua"; }
# runs NAME [args]: the scenario must succeed; its stdout is in $tmp/out
runs() { local n=$1; shift; "$M" run "$tmp/$n.lua" --out "$tmp/o_$n" "$@" >"$tmp/out" 2>"$tmp/err" || bad "$n failed: $(cat "$tmp/err")"; }

# --- what must not be reachable: each prints nil, or fails
scenario require_os 'local ok, os2 = pcall(require, "os"); assert(not ok or os2.execute == nil, "require(\"os\") gave the os library"); print("ok")'
runs require_os && grep -q '^ok$' "$tmp/out" && ok || bad "require(\"os\")"
scenario require_os2 'require("os")'
expect_fail 2 "require: module 'os' not found" -- "$M" run "$tmp/require_os2.lua" --out "$tmp/o"
scenario require_path 'require("../../etc/passwd")'
expect_fail 2 "not a module name" -- "$M" run "$tmp/require_path.lua" --out "$tmp/o"
scenario package_loaded 'print(package == nil and "nil" or "reachable")'
runs package_loaded && grep -q '^nil$' "$tmp/out" && ok || bad "package is reachable"
scenario package_loaded_os 'local x = package.loaded.os'
expect_fail 2 "package" -- "$M" run "$tmp/package_loaded_os.lua" --out "$tmp/o"
scenario os_execute 'os.execute("touch '"$tmp"'/pwned")'
expect_fail 2 "execute" -- "$M" run "$tmp/os_execute.lua" --out "$tmp/o"
[ ! -e "$tmp/pwned" ] && ok || bad "os.execute ran"
scenario os_others 'print(os.remove, os.rename, os.getenv, os.exit, os.tmpname, os.setlocale, type(os.clock), type(os.time), type(os.date), type(os.difftime))'
runs os_others && grep -q '^nil	nil	nil	nil	nil	nil	function	function	function	function$' "$tmp/out" && ok || bad "os beyond clock/time/date/difftime: $(cat "$tmp/out")"
scenario io_open 'io.open("'"$tmp"'/pwned", "w")'
expect_fail 2 "io" -- "$M" run "$tmp/io_open.lua" --out "$tmp/o"
[ ! -e "$tmp/pwned" ] && ok || bad "io.open wrote"
scenario debug_lib 'print(debug == nil and "nil" or "reachable")'
runs debug_lib && grep -q '^nil$' "$tmp/out" && ok || bad "debug is reachable"
scenario debug_getinfo 'debug.getinfo(1)'
expect_fail 2 "debug" -- "$M" run "$tmp/debug_getinfo.lua" --out "$tmp/o"
scenario debug_registry 'local r = debug.getregistry()'
expect_fail 2 "debug" -- "$M" run "$tmp/debug_registry.lua" --out "$tmp/o"
scenario string_dump 'print(string.dump, ("").dump, ("x").dump, getmetatable("").__index.dump, getmetatable("").__index == string)'
runs string_dump && grep -q '^nil	nil	nil	nil	true$' "$tmp/out" && ok || bad "string.dump reachable: $(cat "$tmp/out")"
scenario string_dump_call 'local s = ("").dump(print)'
expect_fail 2 "dump" -- "$M" run "$tmp/string_dump_call.lua" --out "$tmp/o"
scenario others 'print(collectgarbage, dofile, loadfile, rawequal ~= nil, coroutine, require ~= nil)'
runs others && grep -q '^nil	nil	nil	true	nil	true$' "$tmp/out" && ok || bad "collectgarbage/dofile/loadfile: $(cat "$tmp/out")"
scenario collectgarbage 'collectgarbage("stop")'
expect_fail 2 "collectgarbage" -- "$M" run "$tmp/collectgarbage.lua" --out "$tmp/o"
scenario dofile 'dofile("/etc/passwd")'
expect_fail 2 "dofile" -- "$M" run "$tmp/dofile.lua" --out "$tmp/o"
scenario loadfile 'loadfile("/etc/passwd")'
expect_fail 2 "loadfile" -- "$M" run "$tmp/loadfile.lua" --out "$tmp/o"
scenario globals 'print(_G == _ENV, _G.moesim == moesim, rawget(_G, "io"), rawget(_G, "package"))'
runs globals && grep -q '^true	true	nil	nil$' "$tmp/out" && ok || bad "_G is not the sandbox: $(cat "$tmp/out")"

# --- binary chunks: load refuses them, and so does moesim run
scenario load_binary 'local f, e = load("\27LuaT\0\25\147\r\n\26\n", "b", "b"); assert(f == nil and e:find("only text"), e)
local f, e = load("\27LuaT\0\25\147\r\n\26\n"); assert(f == nil and e:find("binary"), e)
local f, e = load("return 1 + 1"); assert(f() == 2)
local f, e = load("return x", "c", "t", { x = 7 }); assert(f() == 7)
print("ok")'
runs load_binary && grep -q '^ok$' "$tmp/out" && ok || bad "load of a binary chunk: $(cat "$tmp/err")"
if command -v luac5.4 >/dev/null; then
  printf 'print("precompiled")\n' >"$tmp/src.lua" && luac5.4 -o "$tmp/chunk.luac" "$tmp/src.lua"
else
  printf '\033LuaT\000\031\223\r\n\032\n' >"$tmp/chunk.luac" # the signature is enough to be refused
fi
expect_fail 2 "precompiled \(binary\) Lua chunk" -- "$M" run "$tmp/chunk.luac" --out "$tmp/o"
printf '#!/usr/bin/env moesim\n\033LuaT\000' >"$tmp/shebang.lua"
expect_fail 2 "precompiled \(binary\) Lua chunk" -- "$M" run "$tmp/shebang.lua" --out "$tmp/o"

# --- require: text Lua modules from the script's folder, in the same sandbox
mkdir -p "$tmp/mods/util"
printf 'return { twice = function(x) return 2 * x end, io = io, os_execute = os.execute }\n' >"$tmp/mods/util/m.lua"
printf 'local m = require("util.m"); assert(m.twice(21) == 42 and m.io == nil and m.os_execute == nil)\nassert(require("util.m") == m); print("ok")\n' >"$tmp/mods/main.lua"
"$M" run "$tmp/mods/main.lua" --out "$tmp/o" | grep -q '^ok$' && ok || bad "require of a module in the script's folder"

# --- deep nesting into every function that converts a table: a clear error, no crash
for call in 'moesim.write_json("d.json", t)' 'moesim.print({ t })' 'moesim.write_csv("d.csv", { t })' \
            'moesim.plot { rows = { t }, x = "a", y = "b", file = "d.png" }'; do
  fn=$(echo "$call" | sed 's/moesim\.\([a-z_]*\).*/\1/')
  scenario "deep_$fn" "local t = {} for i = 1, 200 do t = { a = t } end $call"
  expect_fail 2 "$fn: table nested deeper than 64 levels" -- "$M" run "$tmp/deep_$fn.lua" --out "$tmp/o"
done
scenario self_ref 'local t = {} t.t = t moesim.write_json("s.json", t)'
expect_fail 2 "write_json: table nested deeper than 64 levels .*contains itself" -- "$M" run "$tmp/self_ref.lua" --out "$tmp/o"
scenario deep_ok 'local t = { v = 1 } for i = 1, 60 do t = { t } end moesim.write_json("ok.json", t)'
runs deep_ok && [ -s "$tmp/o_deep_ok/ok.json" ] && ok || bad "60 levels should be written"
# a record's fields are written in key order, so the same scenario writes the same file every
# run (Lua walks a table in an order seeded per run)
scenario keys 'local r = {} for i = 1, 40 do r["k" .. i] = i end moesim.write_json("k.json", { r = r, a = 1, z = { y = 2, b = 3 } })'
runs keys && cp "$tmp/o_keys/k.json" "$tmp/k1.json" && runs keys && cmp -s "$tmp/k1.json" "$tmp/o_keys/k.json" &&
  [ "$(jq -r 'keys_unsorted | join(",")' "$tmp/k1.json")" = "a,r,z" ] &&
  [ "$(jq -r '.r | keys_unsorted | join(",")' "$tmp/k1.json")" = "$(jq -r '.r | keys | join(",")' "$tmp/k1.json")" ] &&
  [ "$(jq -r '.z | keys_unsorted | join(",")' "$tmp/k1.json")" = "b,y" ] && ok ||
  bad "write_json: fields not in key order or not the same across runs: $(head -c 300 "$tmp/o_keys/k.json")"

# --- limits: a runaway loop and a memory bomb stop with a clear message, exit 2
scenario loop 'while true do end'
expect_fail 2 "stopped after 1000000 Lua instructions.*--allow-slow" -- "$M" run "$tmp/loop.lua" --out "$tmp/o" --max-instructions 1000000
scenario loop_pcall 'while true do pcall(function() while true do end end) end'
expect_fail 2 "stopped after 1000000 Lua instructions" -- timeout 20 "$M" run "$tmp/loop_pcall.lua" --out "$tmp/o" --max-instructions 1000000
scenario short 'local x = 0 for i = 1, 1000 do x = x + i end print(x)'
runs short --max-instructions 100000 && grep -q '^500500$' "$tmp/out" && ok || bad "a short loop under the limit"
runs short --allow-slow && ok || bad "--allow-slow"
scenario bomb 'local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(100) .. i end'
expect_fail 2 "memory passed the limit of 16 MB.*--max-memory" -- "$M" run "$tmp/bomb.lua" --out "$tmp/o" --max-memory 16
scenario bomb_str 'local s = ("x"):rep(1e9)'
expect_fail 2 "memory passed the limit of 16 MB" -- "$M" run "$tmp/bomb_str.lua" --out "$tmp/o" --max-memory 16
expect_fail 2 "--max-memory must be a positive whole number" -- "$M" run "$tmp/short.lua" --max-memory lots
expect_fail 2 "--max-instructions must be a positive whole number" -- "$M" run "$tmp/short.lua" --max-instructions 0
# the shipped scenarios stay far below both limits
for s in scenarios/*.lua; do
  "$M" run "$s" --out "$tmp/shipped" --max-instructions 1000000 --max-memory 16 >/dev/null 2>"$tmp/err" && ok \
    || bad "$s needs more than 1e6 instructions or 16 MB: $(head -3 "$tmp/err")"
done

# --- the output folder: no "..", no absolute path, no symbolic link out of it
mkdir -p "$tmp/outside" "$tmp/o_esc"
scenario dotdot 'moesim.write_csv("../outside/x.csv", {{a=1}})'
expect_fail 2 "write_csv: .*inside the output folder" -- "$M" run "$tmp/dotdot.lua" --out "$tmp/o_esc"
scenario absolute 'moesim.write_json("'"$tmp"'/outside/x.json", {1})'
expect_fail 2 "write_json: .*inside the output folder" -- "$M" run "$tmp/absolute.lua" --out "$tmp/o_esc"
ln -s "$tmp/outside" "$tmp/o_esc/link"
scenario via_link 'moesim.write_csv("link/x.csv", {{a=1}})'
expect_fail 2 "write_csv: .*'link' is a symbolic link" -- "$M" run "$tmp/via_link.lua" --out "$tmp/o_esc"
scenario plot_link 'moesim.plot { rows = {{a=1,b=2},{a=2,b=3}}, x = "a", y = "b", file = "link/p.svg" }'
expect_fail 2 "plot: .*'link' is a symbolic link" -- "$M" run "$tmp/plot_link.lua" --out "$tmp/o_esc"
ln -s "$tmp/outside/victim.json" "$tmp/o_esc/v.json"
scenario over_link 'moesim.write_json("v.json", {1})'
expect_fail 2 "write_json: 'v.json' exists and is a symbolic link" -- "$M" run "$tmp/over_link.lua" --out "$tmp/o_esc"
[ -z "$(ls -A "$tmp/outside")" ] && ok || bad "a write left the output folder: $(ls "$tmp/outside")"
scenario subdir 'print(moesim.write_csv("a/b/x.csv", {{a=1}}))'
runs subdir && [ -s "$tmp/o_subdir/a/b/x.csv" ] && grep -q "o_subdir/a/b/x.csv" "$tmp/out" && ok || bad "write into a new subfolder"

# --- errors name the function called; file contents are not echoed
scenario serve_bogus 'moesim.serve { bogus = 1 }'
expect_fail 2 "serve: unknown option 'bogus'" -- "$M" run "$tmp/serve_bogus.lua" --out "$tmp/o"
scenario search_bogus 'moesim.search { model = "mixtral-8x7b", hw = "h200", bogus = 1 }'
expect_fail 2 "search: unknown option 'bogus'" -- "$M" run "$tmp/search_bogus.lua" --out "$tmp/o"
scenario sweep_bogus 'moesim.sweep { base = { model = "mixtral-8x7b", hw = "h200", bogus = 1 }, vary = { isl = { 1 } } }'
expect_fail 2 "sweep: unknown option 'bogus'" -- "$M" run "$tmp/sweep_bogus.lua" --out "$tmp/o"
printf 'root:x:0:0:SECRET-TEXT:/root:/bin/bash\n' >"$tmp/passwd"
scenario model_file "moesim.model(\"$tmp/passwd\")"
expect_fail 2 "model: .*passwd:1:1: malformed JSON" -- "$M" run "$tmp/model_file.lua" --out "$tmp/o"
! grep -q "SECRET\|root:x" "$tmp/err" && ok || bad "moesim.model echoed the file: $(cat "$tmp/err")"
scenario hw_file "moesim.eval { model = \"mixtral-8x7b\", hw = \"$tmp/passwd\" }"
expect_fail 2 "eval: .*malformed JSON" -- "$M" run "$tmp/hw_file.lua" --out "$tmp/o"
! grep -q "SECRET\|root:x" "$tmp/err" && ok || bad "moesim.eval echoed the file: $(cat "$tmp/err")"

# --- no leaks when a binding raises (valgrind, where installed)
# (the runtime asked, not ldd: clang links AddressSanitizer into the binary, gcc as a library)
if [[ "$(ASAN_OPTIONS=help=1 "$M" --version 2>&1 || true)" == *AddressSanitizer* ]]; then
  echo "sandbox: $M is built with AddressSanitizer, which checks leaks itself; valgrind checks skipped"
elif command -v valgrind >/dev/null; then
  scenario leak_tp 'moesim.eval { model = "qwen3-30b-a3b", hw = "h200", tp = 3 }'
  scenario leak_opt 'moesim.eval { model = "qwen3-30b-a3b", hw = "h200", bogus = 3 }'
  scenario leak_json 'moesim.write_json("x.json", { 1, 2, { a = print } })'
  scenario leak_cols 'moesim.print({ { a = 1 } }, { 1, {} })'
  scenario leak_csv 'moesim.write_csv("x.csv", { { a = 1 } }, { {} })'
  scenario leak_deep 'local t = {} for i = 1, 100 do t = { t } end moesim.write_json("d.json", t)'
  scenario leak_serve 'local r = moesim.serve { model = "mixtral-8x7b", hw = "h200", rate = 5, requests = 50 } error("after serve")'
  scenario leak_mem 'local t = {} for i = 1, 1e9 do t[i] = moesim.models() end'
  for n in leak_tp leak_opt leak_json leak_cols leak_csv leak_deep leak_serve leak_mem; do
    status=0 limit=()
    [ "$n" = leak_mem ] && limit=(--max-memory 8) # out of memory while pushing a result
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
      "$M" run "$tmp/$n.lua" --out "$tmp/o" "${limit[@]}" >/dev/null 2>"$tmp/vg" || status=$?
    [ "$status" -eq 2 ] && ! grep -q "definitely lost" "$tmp/vg" && ok || bad "$n: valgrind status $status: $(grep -A8 'definitely lost' "$tmp/vg" | head -20)"
  done
else
  echo "sandbox: valgrind not installed; leak checks skipped"
fi

# a row that is neither a list nor a record (found by fuzz_lua): named, never silently dropped
scenario mixed_row 'moesim.print({ { 2, ok = true } })'
expect_fail 2 "print: the table at 'rows\[1\]' is neither a list" -- "$M" run "$tmp/mixed_row.lua" --out "$tmp/o"
scenario mixed_json 'moesim.write_json("m.json", { a = { 1, 2, x = 3 } })'
expect_fail 2 "write_json: the table at '.*a' is neither a list" -- "$M" run "$tmp/mixed_json.lua" --out "$tmp/o"

echo "sandbox: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
