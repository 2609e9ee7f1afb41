#!/usr/bin/env bash
# test_published.sh: moesim against published measurements (scenarios/published.lua).
# Stated tolerance, with shipped spec-sheet priors and no calibration: every case within a
# factor of 2 of the published figure (|error| <= 100%), and the median absolute error at
# most 40% (the design's one-efficiency roofline baseline was about 60%). A change that
# moves a case outside this band must say why in the README's comparison table.
set -euo pipefail
BIN=${BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN/moesim" run scenarios/published.lua --out "$tmp" >"$tmp/table.txt"
cat "$tmp/table.txt"
fail=0
while IFS=$'\t' read -r id err; do
  if ! awk -v e="$err" 'BEGIN { exit !(e <= 100 && e >= -100) }'; then
    echo "FAIL: $id is off by ${err}% (tolerance 100%)" >&2
    fail=$((fail + 1))
  fi
done < <(jq -r '.cases[] | [.id, .error_pct] | @tsv' "$tmp/published.json")
median=$(jq '.median_abs_error_pct' "$tmp/published.json")
if ! awk -v m="$median" 'BEGIN { exit !(m <= 40) }'; then
  echo "FAIL: median absolute error ${median}% (tolerance 40%)" >&2
  fail=$((fail + 1))
fi
n=$(jq '.cases | length' "$tmp/published.json")
echo "published: $((n + 1 - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
