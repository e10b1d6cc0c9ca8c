# Shared by bench/gateway_bench.sh and bench/gateway_instructions.sh; sourced, not run.
#
#   bench_setup NAME   # die() prefix; $TMP, a scratch directory; $PIDS, the processes to stop;
#                      # exports RAMPART_BENCH_ADMIN_TOKEN, the admin token of the bench configs
#   die MESSAGE...     # prints "NAME: MESSAGE" to stderr and exits 1
#   wait_for_line FILE REGEX PID SECONDS [ERRFILE]   # prints the first line of FILE matching
#                      # REGEX; if PID exits first, shows FILE and ERRFILE's tail and dies
#
# Everything whose pid is appended to PIDS is killed and reaped on exit, and $TMP removed;
# INT and TERM exit with 130 through the same path.

bench_setup() {
  BENCH_NAME=$1
  TMP=$(mktemp -d "/tmp/rampart-$BENCH_NAME.XXXXXX")
  PIDS=()
  RAMPART_BENCH_ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  export RAMPART_BENCH_ADMIN_TOKEN
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

wait_for_line() {
  local file=$1 re=$2 pid=$3 secs=$4 err=${5:-} i
  for ((i = 0; i < secs * 10; i++)); do
    if grep -m1 -E "$re" "$file" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$file" >&2
      [[ -n $err && -f $err ]] && tail -n 20 "$err" >&2
      die "process $pid exited early"
    fi
    sleep 0.1
  done
  die "timed out waiting for /$re/ in $file"
}
