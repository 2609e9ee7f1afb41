#!/usr/bin/env bash
# step_dump.sh OLD_TREE NEW_TREE: build tests/bench/step_dump.c against each tree's libraries
# (each tree built first: make build) and compare their dumps over tests/bench/step_dump.txt byte
# for byte (both trees must have the step API step_dump.c reads). Prints IDENTICAL, or the first
# differing lines and exits 1.
set -euo pipefail
trees=("$(cd "$1" && pwd)" "$(cd "$2" && pwd)")
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
libs="-llua5.4 -lcjson -L/usr/lib/x86_64-linux-gnu/openblas-pthread/ -lopenblas -lgsl -lgslcblas -lm -lpthread"
for i in 0 1; do
    t=$([ "$i" = 0 ] && echo old || echo new)
    tree=${trees[$i]}
    # shellcheck disable=SC2086
    cc -O2 -std=c11 -D_GNU_SOURCE -I"$tree/sim" -I"$tree" "$here/tests/bench/step_dump.c" \
        "$tree/build/rel/libmoesim-front.a" "$tree/build/rel/libmoesim.a" $libs -o "$tmp/dump_$t"
    MOESIM_HOME=$tree MOESIM_CACHE_DIR=$tmp/cache_$t "$tmp/dump_$t" "$here/tests/bench/step_dump.txt" > "$tmp/$t.txt"
done
echo "$(wc -l < "$tmp/old.txt") lines"
if cmp -s "$tmp/old.txt" "$tmp/new.txt"; then
    echo IDENTICAL
else
    diff "$tmp/old.txt" "$tmp/new.txt" | head -20
    exit 1
fi
