#!/usr/bin/env bash
# TLS cost of the gateway's listener: sequential chat requests (the 1 KB body of
# bench/gateway/chat_1k.json) through `rampart serve` with no stages, in front of the plain mock
# upstream, measured with curl's own timers:
#   plain-new   plain HTTP, a new connection per request
#   tls-new     TLS listener, a new connection (full handshake) per request
#   tls-reuse   TLS listener, one kept-alive connection for all requests
# Prints the median and p99 of connect, TLS handshake (curl's appconnect minus connect), the
# exchange after it, and total time per request. In tls-reuse only the first request has a
# handshake, so its "handshake" is that one value.
#
#   bench/tls_latency.sh            # from the repository root, after building build/rampart
#
# Then, when wrk is installed, a closed-loop wrk run against each listener on kept-alive
# connections (req/s, p50, p99).
#
# Environment: RAMPART [build/rampart]  N [300] requests per mode  CURVE [P-256]: the
# certificate key (P-256 ECDSA; RSA:2048 also works)  WRK_CONNS [16]  WRK_DURATION [5s]
# (0: skip wrk). Needs curl, openssl and python3.
# Only 127.0.0.1 is used; everything started is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RAMPART=${RAMPART:-build/rampart}
N=${N:-300}
CURVE=${CURVE:-P-256}
export RAMPART_CACHE_DIR=${RAMPART_CACHE_DIR:-$ROOT/build/rule-cache}
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "tls_latency: $tool not found" >&2; exit 1; }
done
[[ -x $RAMPART ]] || { echo "tls_latency: $RAMPART not built" >&2; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# Throwaway CA and server certificate for 127.0.0.1.
if [[ $CURVE == RSA:* ]]; then KEYOPT=(-newkey "rsa:${CURVE#RSA:}"); else
  KEYOPT=(-newkey ec -pkeyopt "ec_paramgen_curve:$CURVE"); fi
openssl req -x509 "${KEYOPT[@]}" -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
openssl req "${KEYOPT[@]}" -nodes -subj /CN=127.0.0.1 -keyout "$TMP/gw.key" \
  -out "$TMP/gw.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$TMP/ext"
openssl x509 -req -in "$TMP/gw.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
  -days 1 -extfile "$TMP/ext" -out "$TMP/gw.crt" 2>/dev/null

port_of() {  # waits for "... port N" on the first line of $1
  for _ in $(seq 100); do
    if [[ -s $1 ]]; then sed -n '1s/.*port \([0-9]*\).*/\1/p' "$1"; return; fi
    sleep 0.1
  done
  echo "tls_latency: no port in $1" >&2; exit 1
}

"$RAMPART" mock-upstream --port 0 >"$TMP/mock.out" &
PIDS+=($!)
MOCK=$(port_of "$TMP/mock.out")

start_gateway() {  # $1 name, $2 extra server yaml line
  cat >"$TMP/$1.yaml" <<EOF
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  threads: 1
  $2
upstreams:
  - {name: mock, url: "http://127.0.0.1:$MOCK"}
routes:
  - {name: chat, kind: openai, path: /v1, upstream: mock, stages: []}
EOF
  "$RAMPART" serve --config "$TMP/$1.yaml" --no-access-log >"$TMP/$1.out" 2>"$TMP/$1.log" &
  PIDS+=($!)
  port_of "$TMP/$1.out"
}
PLAIN=$(start_gateway plain "")
TLS=$(start_gateway tls "tls: {cert_file: gw.crt, key_file: gw.key}")

FMT='%{time_connect} %{time_appconnect} %{time_total} %{http_code}\n'
BODY=(-H 'Content-Type: application/json' --data-binary @bench/gateway/chat_1k.json)
run_new() {  # $1 url; a new curl (and connection) per request
  for _ in $(seq "$N"); do
    curl -s -o /dev/null -w "$FMT" --cacert "$TMP/ca.pem" "${BODY[@]}" "$1"
  done
}
run_reuse() {  # one curl, N transfers on one connection (options apply to every URL)
  local args=()
  for _ in $(seq "$N"); do args+=(-o /dev/null "$1"); done
  curl -s -w "$FMT" --cacert "$TMP/ca.pem" "${BODY[@]}" "${args[@]}"
}
# Warm-up.
N=20 run_new "http://127.0.0.1:$PLAIN/v1/chat/completions" >/dev/null
N=20 run_new "https://127.0.0.1:$TLS/v1/chat/completions" >/dev/null
run_new "http://127.0.0.1:$PLAIN/v1/chat/completions" >"$TMP/plain-new.txt"
run_new "https://127.0.0.1:$TLS/v1/chat/completions" >"$TMP/tls-new.txt"
run_reuse "https://127.0.0.1:$TLS/v1/chat/completions" >"$TMP/tls-reuse.txt"

# Concurrency (when wrk is installed; WRK_DURATION=0 skips): closed loop, kept-alive
# connections, plain vs TLS listener.
if command -v wrk >/dev/null && [[ ${WRK_DURATION:-5s} != 0 ]]; then
  for mode in plain tls; do
    if [[ $mode == plain ]]; then url="http://127.0.0.1:$PLAIN"; else url="https://127.0.0.1:$TLS"; fi
    BENCH_BODY=bench/gateway/chat_1k.json wrk -t1 -c"${WRK_CONNS:-16}" -d"${WRK_DURATION:-5s}" \
      --latency -s bench/gateway/chat_1k.lua "$url/v1/chat/completions" >"$TMP/wrk-$mode.txt"
    echo "wrk $mode (${WRK_CONNS:-16} connections, ${WRK_DURATION:-5s}):" \
      "$(grep 'Requests/sec' "$TMP/wrk-$mode.txt" | awk '{print $2}') req/s," \
      "p50 $(awk '$1=="50%"{print $2}' "$TMP/wrk-$mode.txt")," \
      "p99 $(awk '$1=="99%"{print $2}' "$TMP/wrk-$mode.txt")," \
      "non-2xx: $(awk '/Non-2xx/{n=$NF} END{print n+0}' "$TMP/wrk-$mode.txt")," \
      "socket errors: $(grep -c 'Socket errors' "$TMP/wrk-$mode.txt" || true) lines"
  done
fi

python3 - "$TMP" <<'EOF'
import sys, statistics
tmp = sys.argv[1]
def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(q * len(v)))]
print(f"{'mode':10} {'n':>4} {'non-200':>7} {'connect p50':>12} {'handshake p50/p99':>20} "
      f"{'after handshake p50':>20} {'total p50/p99':>20}")
for mode in ("plain-new", "tls-new", "tls-reuse"):
    rows = [l.split() for l in open(f"{tmp}/{mode}.txt") if l.strip()]
    bad = sum(1 for r in rows if r[3] != "200")
    conn = [float(r[0]) * 1e3 for r in rows]
    hs = [max(0.0, float(r[1]) - float(r[0])) * 1e3 for r in rows if float(r[1]) > 0]
    tot = [float(r[2]) * 1e3 for r in rows]
    # Request and response once connected (and handshaken): total minus appconnect/connect.
    after = [(float(r[2]) - max(float(r[0]), float(r[1]))) * 1e3 for r in rows]
    hs_s = f"{statistics.median(hs):.3f}/{pct(hs, .99):.3f} ms" if hs else "-"
    print(f"{mode:10} {len(rows):>4} {bad:>7} {statistics.median(conn):>9.3f} ms "
          f"{hs_s:>20} {statistics.median(after):>17.3f} ms "
          f"{statistics.median(tot):>8.3f}/{pct(tot, .99):.3f} ms")
EOF
