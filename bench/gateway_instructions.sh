#!/usr/bin/env bash
# Gateway cost per request in user-space instructions: runs `rampart serve` under valgrind's
# callgrind in front of the mock upstream, sends the 1 KB chat request of
# bench/gateway_bench.sh with wrk (8 connections, after a warm-up), and divides the
# instructions the server executed during the timed run by the requests wrk completed.
# Unlike CPU time, an instruction count does not depend on what else the machine is doing,
# so small changes to the hot path can be compared on a noisy machine. It does not count the
# kernel (system calls), and callgrind counts a `rep stosb`/`rep movsb` (large memset and
# memcpy) one byte per instruction, so those look more expensive than they are.
#
#   bench/gateway_instructions.sh [off|on]...   # default: off on
#
# off/on are the configs of bench/gateway_bench.sh (bench/gateway/pipeline_{off,on}.yaml).
# BENCH_BODY picks another 1,024-byte body, e.g. bench/gateway/chat_1k_short_prompt.json (the
# same size, but a 9-byte user message after a long system prompt, which the scan stages
# skip): the default pipeline's cost per request without the per-byte cost of scanning.
# Starting the default pipeline under valgrind takes minutes (the scanners load); the timed
# run is 5 s. Writes callgrind files under $OUT_DIR [a temporary directory, kept] for
# callgrind_annotate. Only 127.0.0.1 is used; everything started is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RAMPART=${RAMPART:-build/rampart}
export RAMPART_CACHE_DIR=${RAMPART_CACHE_DIR:-$ROOT/build/rule-cache}
export BENCH_BODY=${BENCH_BODY:-$ROOT/bench/gateway/chat_1k.json}
LUA=bench/gateway/chat_1k.lua
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/rampart-gateway-instructions.XXXXXX)}
mkdir -p "$OUT_DIR"
targets=("$@")
((${#targets[@]})) || targets=(off on)

# shellcheck source=bench/gateway/lib.sh
source bench/gateway/lib.sh
bench_setup gateway_instructions
for tool in valgrind callgrind_control wrk; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh --bench)"
done
[[ -x $RAMPART ]] || die "$RAMPART not built (cmake --preset release && cmake --build build)"

"$RAMPART" mock-upstream --port 0 >"$TMP/mock.out" 2>&1 &
PIDS+=($!)
MOCK_PORT=$(wait_for_line "$TMP/mock.out" 'listening on port' "$!" 10 | awk '{print $NF}')

echo "== gateway instructions per request, rampart $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for t in "${targets[@]}"; do
  [[ -f bench/gateway/pipeline_$t.yaml ]] || die "no bench/gateway/pipeline_$t.yaml"
  sed -e "s|@THREADS@|1|" -e "s|@UPSTREAM_PORT@|$MOCK_PORT|" "bench/gateway/pipeline_$t.yaml" \
      >"$TMP/$t.yaml"
  valgrind --tool=callgrind --callgrind-out-file="$OUT_DIR/callgrind.$t.%p" \
      "$RAMPART" serve --config "$TMP/$t.yaml" --no-access-log >"$TMP/$t.out" 2>"$TMP/$t.err" &
  pid=$!
  PIDS+=("$pid")
  port=$(wait_for_line "$TMP/$t.out" 'listening on port' "$pid" 900 "$TMP/$t.err" |
    awk '{print $NF}')
  url="http://127.0.0.1:$port/v1/chat/completions"
  wrk -t1 -c8 -d3s -s "$LUA" "$url" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  out=$(wrk -t1 -c8 -d5s -s "$LUA" "$url")
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  line=$(grep '^BENCH ' <<<"$out") || { echo "$out" >&2; die "no result from wrk against $t"; }
  grep -q 'non2xx=0 sockerr=0' <<<"$line" || die "$t: errors during the run: $line"
  requests=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
  dump=$(ls -t "$OUT_DIR/callgrind.$t.$pid".* | head -1)
  ir=$(awk '/^summary:/ {print $2; exit}' "$dump")
  echo "$t: $requests requests, $((ir / requests)) instructions per request ($dump)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
