#!/usr/bin/env bash
# Gateway benchmark (issue 3): in one run, with wrk and the same 1 KB chat request, measures
#   mock    the mock upstream directly (the baseline for "added latency"),
#   nginx   nginx as a plain reverse proxy (upstream keepalive) in front of that mock,
#   off     rampart serve, an openai route with no stages (bench/gateway/pipeline_off.yaml),
#   on      rampart serve, the default pipeline of examples/quickstart.yaml
#           (auth, rate_limit, input_scan, output_scan; bench/gateway/pipeline_on.yaml).
# For each: a warm-up and closed-loop peak runs with wrk; then, for each proxy, runs paced at
# half of its peak rate with bench/paced_load (p99), each paired with the mock alone paced at
# the same rate. Then the RSS of each server with 1,000 open keep-alive connections. Prints a
# summary and the ratios against nginx.
#
#   bench/gateway_bench.sh            # from the repository root, after building build/rampart
#                                     # and build/bench/paced_load
#
# Environment (defaults in brackets):
#   RAMPART [build/rampart]  PACED_LOAD [build/bench/paced_load]
#   THREADS [1]: rampart threads = nginx worker_processes
#   SERVER_CPUS [1]  CLIENT_CPUS [0]: taskset CPU lists; the servers under test run on
#       SERVER_CPUS, wrk, paced_load, the mock upstream and the connection holder on
#       CLIENT_CPUS. PIN=0 disables pinning.
#   WRK_THREADS [1]  CONNS [64]  DURATION [10s]  WARMUP [3s]: wrk peak runs
#   ROUNDS [3]: peak runs per target, interleaved; the median is reported
#   HALF_ROUNDS [3]: half-load pairs (proxy, mock alone) per proxy; medians are reported
#   HALF_SECONDS [10]: measured seconds of each half-load run (after a 2 s warm-up)
#   HALF_CONNS [32]: most connections paced_load opens (the mock runs a thread for each)
#   QUIET_P99_US [1000]: a half-load pair counts only when its mock-alone run's p99 is at most
#       this: a machine that cannot serve the bare mock within the 1 ms the target allows
#       cannot resolve a 1 ms difference either. The target is judged only when most pairs
#       count; otherwise it is reported as not settled.
#   HOLD_CONNS [1000]: connections held open for the RSS measurement
#   RAMPART_CACHE_DIR [build/rule-cache]: compiled rule databases (fast start)
#
# Half load: wrk cannot fix a request rate (wrk2 can; it is not packaged in Debian), so the
# paced runs use bench/paced_load, an open-loop client: request i is scheduled at i / rate
# whatever the server does, and timed from its scheduled time to the kernel's receive
# timestamp of its answer, so queueing in the client counts against the server (no
# coordinated omission). It wakes once per 200 us tick and sends what is due, which adds up
# to one tick to every latency, the mock's as much as the proxies'. It runs at real-time
# priority (chrt -f 10) where it may, so that its ticks are not late behind the mock on the
# shared core. Its lag behind the schedule (scheduled to sent, which also counts waits for a
# free connection) is printed as lag_p99_us. "Added p99" is the median over the HALF_ROUNDS
# pairs with a quiet baseline (QUIET_P99_US) of (proxy p99 - mock-alone p99), the two runs of
# a pair back to back.
# Around each paced run of rampart, the script also reads rampart_added_latency_seconds (the
# gateway's own time per exchange, less the upstream's wait) from its admin /metrics and
# prints the p99 of the samples in between: own_p99_us, interpolated in the bucket as
# Prometheus' histogram_quantile does, and own_p99_le_us, that bucket's bound (the run's 2 s
# warm-up is among the samples). It does not see time spent in the kernel or waiting to be
# read; the external pair does.
#
# Only 127.0.0.1 is used. Everything started is stopped on exit. Exit status: non-zero only
# when something could not be run; missed targets are reported, not failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RAMPART=${RAMPART:-build/rampart}
THREADS=${THREADS:-1}
SERVER_CPUS=${SERVER_CPUS:-1}
CLIENT_CPUS=${CLIENT_CPUS:-0}
PIN=${PIN:-1}
WRK_THREADS=${WRK_THREADS:-1}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-3}
HALF_ROUNDS=${HALF_ROUNDS:-3}
HALF_SECONDS=${HALF_SECONDS:-10}
HALF_CONNS=${HALF_CONNS:-32}
QUIET_P99_US=${QUIET_P99_US:-1000}
PACED_LOAD=${PACED_LOAD:-build/bench/paced_load}
HOLD_CONNS=${HOLD_CONNS:-1000}
export RAMPART_CACHE_DIR=${RAMPART_CACHE_DIR:-$ROOT/build/rule-cache}
BODY=bench/gateway/chat_1k.json
LUA=bench/gateway/chat_1k.lua
export BENCH_BODY=$ROOT/$BODY

# shellcheck source=bench/gateway/lib.sh
source bench/gateway/lib.sh
bench_setup gateway_bench
for tool in wrk nginx python3 taskset; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh --bench installs nginx and wrk)"
done
[[ -x $RAMPART ]] || die "$RAMPART not built (cmake --preset release && cmake --build build)"
[[ -x $PACED_LOAD ]] || die "$PACED_LOAD not built (cmake --build build --target paced_load)"

# Pinning prefixes. taskset execs the command, so $! of "${ON_SERVER[@]}" cmd & is cmd's pid.
ON_SERVER=()
ON_CLIENT=()
if [[ $PIN == 1 ]]; then
  ON_SERVER=(taskset -c "$SERVER_CPUS")
  ON_CLIENT=(taskset -c "$CLIENT_CPUS")
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for_port() {
  local port=$1 i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "nothing listening on 127.0.0.1:$port"
}

cpu_ticks() {  # utime+stime of the given pids (all their threads), in clock ticks
  local total=0 pid f
  for pid in "$@"; do
    f=$(sed 's/^.*) //' "/proc/$pid/stat")  # fields from 3 on; comm may contain spaces
    total=$((total + $(awk '{print $12 + $13}' <<<"$f")))
  done
  echo "$total"
}

rss_kb() {  # summed VmRSS of the given pids, kB
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
  done
  echo "$total"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

# ---- servers -----------------------------------------------------------------------------
echo "== gateway benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(cut -d' ' -f1-3 /proc/loadavg) load"
echo "   rampart $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $RAMPART, threads=$THREADS; nginx workers=$THREADS"
if [[ $PIN == 1 ]]; then
  echo "   servers under test on CPUs $SERVER_CPUS; wrk, paced_load, mock upstream, connection holder on CPUs $CLIENT_CPUS"
fi

"${ON_CLIENT[@]}" "$RAMPART" mock-upstream --port 0 >"$TMP/mock.out" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
MOCK_PORT=$(wait_for_line "$TMP/mock.out" 'listening on port' "$MOCK_PID" 10 | awk '{print $NF}')

NGINX_PORT=$(free_port)
USER_LINE=""
[[ $(id -u) == 0 ]] && USER_LINE="user $(id -un) $(id -gn);"
sed -e "s|@DIR@|$TMP|g" -e "s|@WORKERS@|$THREADS|" -e "s|@PORT@|$NGINX_PORT|" \
    -e "s|@UPSTREAM_PORT@|$MOCK_PORT|" -e "s|@USER_LINE@|$USER_LINE|" \
    bench/gateway/nginx.conf.in >"$TMP/nginx.conf"
"${ON_SERVER[@]}" nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" \
    >"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_for_port "$NGINX_PORT"

start_rampart() {  # start_rampart NAME CONFIG -> sets <NAME>_PID, <NAME>_PORT, <NAME>_ADMIN
  local name=$1 config=$2 pid port admin
  sed -e "s|@THREADS@|$THREADS|" -e "s|@UPSTREAM_PORT@|$MOCK_PORT|" "$config" >"$TMP/$name.yaml"
  "${ON_SERVER[@]}" "$RAMPART" serve --config "$TMP/$name.yaml" --no-access-log \
      >"$TMP/$name.out" 2>"$TMP/$name.err" &
  pid=$!
  PIDS+=("$pid")
  port=$(wait_for_line "$TMP/$name.out" 'listening on port' "$pid" 180 "$TMP/$name.err" |
    awk '{print $NF}')
  admin=$(wait_for_line "$TMP/$name.out" 'admin on port' "$pid" 10 "$TMP/$name.err" |
    awk '{print $NF}')
  printf -v "${name}_PID" %s "$pid"
  printf -v "${name}_PORT" %s "$port"
  printf -v "${name}_ADMIN" %s "$admin"
}
start_rampart off bench/gateway/pipeline_off.yaml
start_rampart on bench/gateway/pipeline_on.yaml

declare -A PORT=([mock]=$MOCK_PORT [nginx]=$NGINX_PORT [off]=$off_PORT [on]=$on_PORT)
nginx_pids() { echo "$NGINX_PID" $(ps -o pid= --ppid "$NGINX_PID"); }
declare -A START_RSS=([off]=$(rss_kb "$off_PID") [on]=$(rss_kb "$on_PID") [nginx]=$(rss_kb $(nginx_pids)))
server_pids() {
  case $1 in
    mock) echo "$MOCK_PID" ;; nginx) nginx_pids ;; off) echo "$off_PID" ;; on) echo "$on_PID" ;;
  esac
}

# Every target must answer the request with the mock's reply before anything is timed.
for t in mock nginx off on; do
  reply=$(curl -sS --max-time 10 -H 'Content-Type: application/json' \
      -H 'Authorization: Bearer rk-bench-key' --data-binary "@$BODY" \
      "http://127.0.0.1:${PORT[$t]}/v1/chat/completions") || die "$t: request failed"
  grep -q '"You said: ' <<<"$reply" || die "$t: unexpected answer: ${reply:0:300}"
done

# ---- runs --------------------------------------------------------------------------------
run_wrk() {  # run_wrk TARGET CONNS DURATION -> prints the BENCH line (+ cpu tick fields)
  local t=$1 c=$2 d=$3 out line pids before after mock_before mock_after threads
  threads=$WRK_THREADS
  ((threads > c)) && threads=$c
  pids=$(server_pids "$t")
  before=$(cpu_ticks $pids)
  mock_before=$(cpu_ticks "$MOCK_PID")
  out=$("${ON_CLIENT[@]}" wrk -t"$threads" -c"$c" -d"$d" \
      -s "$LUA" "http://127.0.0.1:${PORT[$t]}/v1/chat/completions" 2>&1) ||
      { echo "$out" >&2; die "wrk failed against $t"; }
  after=$(cpu_ticks $pids)
  mock_after=$(cpu_ticks "$MOCK_PID")
  line=$(grep '^BENCH ' <<<"$out") || { echo "$out" >&2; die "no result from wrk against $t"; }
  echo "$line conns=$c server_ticks=$((after - before)) mock_ticks=$((mock_after - mock_before))"
}

# Peak runs in ROUNDS rounds, the order of the targets rotated each round, so that a change in
# the machine's other load during the run does not favour whichever target ran last; each
# target's median run (by requests/s) is the one reported.
declare -A PEAK HALF_ALL RUNS
order=(mock nginx off on)
for t in "${order[@]}"; do run_wrk "$t" "$CONNS" "$WARMUP" >/dev/null; done
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < ${#order[@]}; i++)); do
    t=${order[$(((i + r) % ${#order[@]}))]}
    line=$(run_wrk "$t" "$CONNS" "$DURATION")
    echo "peak  $t (round $((r + 1))): $line"
    RUNS[$t]+="$line"$'\n'
  done
done
for t in "${order[@]}"; do
  PEAK[$t]=$(printf %s "${RUNS[$t]}" | awk 'NF' |
      sort -t= -k4 -g | sed -n "$(((ROUNDS + 1) / 2))p")
done

# rampart_added_latency_seconds of rampart target $1 ("off"/"on"), from its admin /metrics:
# "le count" per bucket, summed over routes, cumulative as Prometheus renders it.
own_hist() {
  local admin_var="${1}_ADMIN"
  curl -sS --max-time 5 -H "Authorization: Bearer $RAMPART_BENCH_ADMIN_TOKEN" \
      "http://127.0.0.1:${!admin_var}/metrics" |
    awk -F'le="' '/^rampart_added_latency_seconds_bucket/ {
        split($2, a, "\"} "); n[a[1]] += a[2]; if (!(a[1] in seen)) { seen[a[1]] = 1; o[++k] = a[1] } }
      END { for (i = 1; i <= k; i++) print o[i], n[o[i]] }'
}
# From two own_hist snapshots: the p99 of the samples in between, as Prometheus'
# histogram_quantile estimates it (linear within the bucket), and the bucket's upper bound.
own_p99() {
  awk 'NR == FNR { b[$1] = $2; next } { le[++k] = $1; c[k] = $2 - b[$1] }
    END {
      total = c[k]; if (total <= 0) { print "own_p99_us=- own_p99_le_us=- own_n=0"; exit }
      rank = 0.99 * total; prev_le = 0; prev_c = 0
      for (i = 1; i <= k; i++) {
        if (c[i] >= rank) {
          if (le[i] == "+Inf") { printf "own_p99_us=inf own_p99_le_us=inf own_n=%d\n", total; exit }
          est = prev_le + (le[i] - prev_le) * (rank - prev_c) / (c[i] - prev_c)
          printf "own_p99_us=%.0f own_p99_le_us=%.0f own_n=%d\n", est * 1e6, le[i] * 1e6, total; exit
        }
        prev_le = le[i]; prev_c = c[i]
      }
    }' "$1" "$2"
}
paced() {  # paced TARGET RATE -> the BENCH line of paced_load at RATE requests/s
  local t=$1 rate=$2 out pids before after own=""
  pids=$(server_pids "$t")
  if [[ $t == off || $t == on ]]; then
    own_hist "$t" >"$TMP/own.before" || die "$t: cannot read /metrics on its admin port"
  fi
  before=$(cpu_ticks $pids)
  out=$("${PACED_RT[@]}" "${ON_CLIENT[@]}" "$PACED_LOAD" --port "${PORT[$t]}" --rate "$rate" \
      --duration "$HALF_SECONDS" --warmup 2 --connections "$HALF_CONNS" --body "$BODY" \
      --header 'Content-Type: application/json' --header 'Authorization: Bearer rk-bench-key') ||
      die "paced_load failed against $t"
  after=$(cpu_ticks $pids)
  if [[ $t == off || $t == on ]]; then
    own_hist "$t" >"$TMP/own.after" || die "$t: cannot read /metrics on its admin port"
    own=" $(own_p99 "$TMP/own.before" "$TMP/own.after")"
  fi
  echo "$out server_ticks=$((after - before))$own"
}
# paced_load runs at real-time priority when it may (as root), as cyclictest does: it shares
# its core with the mock upstream, and a tick it wakes late for is a burst of late requests.
PACED_RT=()
chrt -f 10 true 2>/dev/null && PACED_RT=(chrt -f 10)
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A HALF_P99 MOCK_P99 ADDED HALF_RPS OWN_P99 QUIET
for t in nginx off on; do
  rate=$(awk -v p="$(field "${PEAK[$t]}" rps)" 'BEGIN {printf "%.0f", p / 2}')
  p99s="" mock_p99s="" diffs="" rpss="" owns=""
  for ((r = 0; r < HALF_ROUNDS; r++)); do
    # The pair's order alternates, so neither side always runs first.
    if ((r % 2 == 0)); then pair=("$t" mock); else pair=(mock "$t"); fi
    for x in "${pair[@]}"; do
      line=$(paced "$x" "$rate")
      if [[ $x == mock ]]; then
        echo "half  mock at $t's rate ($rate/s, round $((r + 1))): $line"
        mp=$(field "$line" p99_us)
        mock_p99s+="$mp"$'\n'
      else
        echo "half  $t ($rate/s, round $((r + 1))): $line"
        pp=$(field "$line" p99_us)
        p99s+="$pp"$'\n'
        rpss+="$(field "$line" rps)"$'\n'
        owns+="$(field "$line" own_p99_us)"$'\n'
      fi
      HALF_ALL[$t]+="$line"$'\n'
    done
    # A pair counts only when its baseline was quiet (see QUIET_P99_US above).
    if ((mp <= QUIET_P99_US)); then
      diffs+="$((pp - mp))"$'\n'
      QUIET[$t]=$((${QUIET[$t]:-0} + 1))
    fi
  done
  HALF_P99[$t]=$(printf %s "$p99s" | median)
  MOCK_P99[$t]=$(printf %s "$mock_p99s" | median)
  ADDED[$t]=-
  ((${QUIET[$t]:-0} > 0)) && ADDED[$t]=$(printf %s "$diffs" | median)
  HALF_RPS[$t]=$(printf %s "$rpss" | median)
  OWN_P99[$t]=-
  [[ $t != nginx ]] && OWN_P99[$t]=$(printf %s "$owns" | median)
  echo "half  $t: p99 $((${HALF_P99[$t]%.*})) us, mock alone $((${MOCK_P99[$t]%.*})) us," \
       "added ${ADDED[$t]} us (median of the ${QUIET[$t]:-0} of $HALF_ROUNDS pairs with a quiet baseline)"
done

# ---- RSS with HOLD_CONNS open connections ------------------------------------------------
declare -A HOLD_RSS
for t in nginx off on; do
  coproc HOLDER { "${ON_CLIENT[@]}" python3 bench/gateway/open_connections.py \
      "${PORT[$t]}" "$HOLD_CONNS" "$BODY"; }
  holder_pid=$HOLDER_PID
  read -r -t 120 line <&"${HOLDER[0]}" || die "$t: could not open $HOLD_CONNS connections"
  [[ $line == "open $HOLD_CONNS ok=$HOLD_CONNS" ]] || die "$t: holder said '$line'"
  HOLD_RSS[$t]=$(rss_kb $(server_pids "$t"))
  holder_in=${HOLDER[1]}
  exec {holder_in}>&-
  wait "$holder_pid" || true
  echo "rss   $t: ${START_RSS[$t]} kB at start, ${HOLD_RSS[$t]} kB with $HOLD_CONNS open connections"
done

# ---- summary -----------------------------------------------------------------------------
echo
echo "== summary ($(date -u +%H:%M:%SZ), load average now $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-6s %10s %9s %9s %13s | %11s %9s %12s %9s | %9s\n' target peak_rps p50_ms p99_ms \
    cpu_us/req half_rps p99_ms mock_p99_ms added_ms rss_MB
for t in mock nginx off on; do
  p=${PEAK[$t]}
  rps=$(field "$p" rps)
  cpu=$(awk -v k="$(field "$p" server_ticks)" -v n="$(field "$p" requests)" \
      -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", k / hz * 1e6 / n}')
  if [[ $t == mock ]]; then
    printf '%-6s %10.0f %9.2f %9.2f %13s | %11s %9s %12s %9s | %9s\n' "$t" "$rps" \
        "$(awk -v x="$(field "$p" p50_us)" 'BEGIN {print x / 1000}')" \
        "$(awk -v x="$(field "$p" p99_us)" 'BEGIN {print x / 1000}')" "$cpu" - - - - -
    continue
  fi
  added_ms=-
  [[ ${ADDED[$t]} != - ]] && added_ms=$(awk -v x="${ADDED[$t]}" 'BEGIN {printf "%.3f", x / 1000}')
  printf '%-6s %10.0f %9.2f %9.2f %13s | %11.0f %9.3f %12.3f %9s | %9.1f\n' "$t" "$rps" \
      "$(awk -v x="$(field "$p" p50_us)" 'BEGIN {print x / 1000}')" \
      "$(awk -v x="$(field "$p" p99_us)" 'BEGIN {print x / 1000}')" "$cpu" \
      "${HALF_RPS[$t]}" "$(awk -v x="${HALF_P99[$t]}" 'BEGIN {print x / 1000}')" \
      "$(awk -v x="${MOCK_P99[$t]}" 'BEGIN {print x / 1000}')" \
      "$added_ms" "$(awk -v k="${HOLD_RSS[$t]}" 'BEGIN {print k / 1024}')"
done
bad=0
for t in mock nginx off on; do
  while read -r r; do
    [[ -z $r ]] && continue
    if [[ $(field "$r" non2xx) != 0 || $(field "$r" sockerr) != 0 ]]; then
      echo "WARNING: $t: errors in a run: $r"
      bad=1
    fi
  done <<<"${PEAK[$t]}"$'\n'"${HALF_ALL[$t]:-}"
done

verdict() { if awk "BEGIN {exit !($1)}"; then echo met; else echo MISSED; fi; }
nginx_rps=$(field "${PEAK[nginx]}" rps)
off_ratio=$(awk -v a="$(field "${PEAK[off]}" rps)" -v b="$nginx_rps" 'BEGIN {printf "%.1f", 100 * a / b}')
on_ratio=$(awk -v a="$(field "${PEAK[on]}" rps)" -v b="$nginx_rps" 'BEGIN {printf "%.1f", 100 * a / b}')
echo
echo "pipeline off / nginx peak throughput: ${off_ratio}% (target >= 90%: $(verdict "$off_ratio >= 90"))"
echo "pipeline on  / nginx peak throughput: ${on_ratio}% (target >= 70%: $(verdict "$on_ratio >= 70"))"
for t in off on; do
  q=${QUIET[$t]:-0}
  if ((q * 2 > HALF_ROUNDS)); then
    added=$(awk -v x="${ADDED[$t]}" 'BEGIN {printf "%.3f", x / 1000}')
    added="${added} ms, median of the $q of $HALF_ROUNDS pairs with a quiet baseline (target <= 1 ms: $(verdict "$added <= 1"))"
  else
    added="not settled: $q of $HALF_ROUNDS pairs had a quiet baseline (mock alone p99 <= $QUIET_P99_US us)"
  fi
  echo "pipeline $t added p99 at half of its peak: $added;" \
       "the gateway's own p99 there (rampart_added_latency_seconds): ${OWN_P99[$t]} us"
done
for t in off on; do
  mb=$(awk -v k="${HOLD_RSS[$t]}" 'BEGIN {printf "%.1f", k / 1024}')
  echo "pipeline $t RSS with $HOLD_CONNS open connections: ${mb} MB (target <= 200 MB: $(verdict "$mb <= 200"))"
done
mock_rps=$(field "${PEAK[mock]}" rps)
echo "mock direct / nginx peak: $(awk -v a="$mock_rps" -v b="$nginx_rps" 'BEGIN {printf "%.2f", a / b}')x" \
     "(well above 1: the upstream is not what limits the proxies)"
[[ $bad == 0 ]] || echo "some runs had errors (see warnings above)"
exit 0
