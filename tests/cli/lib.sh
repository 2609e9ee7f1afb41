# lib.sh: what every command-line test shares: a temporary folder, pass/fail counters and
# expect_fail. Source it after `set -euo pipefail`; it sets BIN, M (the moesim binary) and tmp.
BIN=${BIN:-bin}
M="$BIN/moesim"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_fail STATUS PATTERN -- command...: exit status and a stderr message matching PATTERN
expect_fail() {
  local want=$1 pattern=$2; shift 3
  local status=0
  "$@" >"$tmp/out" 2>"$tmp/err" || status=$?
  if [ "$status" -ne "$want" ]; then bad "$* exited $status, expected $want: $(cat "$tmp/err")"; return; fi
  if ! grep -qE -- "$pattern" "$tmp/err"; then bad "$*: stderr lacks /$pattern/: $(cat "$tmp/err")"; return; fi
  ok
}
