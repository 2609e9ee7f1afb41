#!/usr/bin/env bash
# summary.sh RESULTS...: each suite's tally, then the one closing line `N passed, N failed`;
# exits 1 when anything failed or no suite ran. RESULTS files are written by tests/suite.sh.
total_p=0 total_f=0
echo "== tally"
for f in "$@"; do
  [ -f "$f" ] || continue
  while read -r name p f_; do
    printf '  %-48s %5d passed %4d failed\n' "$name" "$p" "$f_"
    total_p=$((total_p + p)) total_f=$((total_f + f_))
  done <"$f"
done
if [ "$total_f" -gt 0 ]; then
  echo "failed suites:"
  for f in "$@"; do [ -f "$f" ] && awk '$3 > 0 {print "  " $1}' "$f"; done
fi
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ] && [ "$total_p" -gt 0 ]
