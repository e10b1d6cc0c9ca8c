#!/usr/bin/env bash
# ctest bench.paced_load: bench/paced_load against the real mock upstream on 127.0.0.1.
#   paced_load_test.sh PACED_LOAD RAMPART BODY
# Checks that it sends exactly the scheduled number of requests over the scheduled time, all
# answered; that non-2xx answers are counted; and its usage and connection errors.
set -euo pipefail
PACED=$1 RAMPART=$2 BODY=$3
TMP=$(mktemp -d /tmp/paced-load-test.XXXXXX)
MOCK=""
cleanup() { [[ -n $MOCK ]] && kill "$MOCK" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

"$RAMPART" mock-upstream --port 0 >"$TMP/mock.out" 2>&1 &
MOCK=$!
for ((i = 0; i < 100; i++)); do
  grep -q 'listening on port' "$TMP/mock.out" && break
  sleep 0.1
done
PORT=$(awk '/listening on port/ {print $NF}' "$TMP/mock.out")
[[ -n $PORT ]] || fail "the mock upstream did not start"

# 500 requests/s for 1 s after a 0.5 s warm-up: 500 measured requests, and the run lasts
# the scheduled 1.5 s (an open loop does not go faster because the server is fast).
t0=$(date +%s%N)
out=$("$PACED" --port "$PORT" --rate 500 --duration 1 --warmup 0.5 --body "$BODY" \
    --header 'Content-Type: application/json')
t1=$(date +%s%N)
echo "$out"
[[ $out == BENCH\ * ]] || fail "no BENCH line"
n=$(field "$out" requests)
((n >= 499 && n <= 501)) || fail "expected 500 measured requests, got $n"
[[ $(field "$out" non2xx) == 0 && $(field "$out" sockerr) == 0 ]] || fail "errors: $out"
(( $(field "$out" p50_us) > 0 )) || fail "p50 should be above 0"
(( $(field "$out" p50_us) <= $(field "$out" p99_us) )) || fail "p50 above p99"
elapsed_ms=$(((t1 - t0) / 1000000))
((elapsed_ms >= 1450)) || fail "the run took ${elapsed_ms} ms, less than its 1.5 s schedule"

# An unknown path: the mock answers 404, and every one is counted as non-2xx.
out=$("$PACED" --port "$PORT" --rate 200 --duration 0.5 --warmup 0 --path /no/such/route)
echo "$out"
n=$(field "$out" requests)
((n >= 99 && n <= 101)) || fail "expected 100 requests, got $n"
[[ $(field "$out" non2xx) == "$n" ]] || fail "every 404 should count as non-2xx: $out"

# Usage errors exit 2; a port with nothing listening exits 1.
set +e
"$PACED" --port "$PORT" >/dev/null 2>&1
[[ $? == 2 ]] || fail "a missing --rate should exit 2"
"$PACED" --port "$PORT" --rate fast >/dev/null 2>&1
[[ $? == 2 ]] || fail "a bad --rate should exit 2"
kill "$MOCK"
wait "$MOCK" 2>/dev/null
MOCK=""
"$PACED" --port "$PORT" --rate 10 --duration 0.1 >/dev/null 2>"$TMP/err"
[[ $? == 1 ]] || fail "an unreachable port should exit 1"
grep -q 'cannot connect' "$TMP/err" || fail "no 'cannot connect' message"
echo "paced_load: ok"
