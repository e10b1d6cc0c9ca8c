#!/usr/bin/env bash
# Every test: install what is needed, build, run the unit, data-driven and integration
# tests and the evaluation gates; then (unless --quick) build again with ASan+UBSan under
# clang, run the tests there, and run every libFuzzer target for a bounded time.
#
#   scripts/test.sh            # everything (what CI runs)
#   scripts/test.sh --quick    # release build and tests only
#   RAMPART_FUZZ_SECONDS=60    # time per fuzz target (default: a 10-minute budget shared by
#                              # all targets, at least 20 s each)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)

bash scripts/install-deps.sh

# The official openai npm client, for the gateway compatibility test (from the npm registry,
# pinned by test/clients/openai-node/package-lock.json). The test fails if it is missing.
echo "== openai npm client =="
npm ci --prefix test/clients/openai-node --no-audit --no-fund --loglevel=error
export RAMPART_REQUIRE_NODE_CLIENT=1

echo "== release build and tests =="
cmake --preset release >/dev/null
cmake --build --preset release -j"$jobs"
ctest --preset release -j"$jobs"

[ "$quick" = 1 ] && exit 0

echo "== ASan+UBSan build and tests (clang) =="
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"

targets=$(grep -c . build-asan/fuzzers.txt || true)
fuzz_seconds=${RAMPART_FUZZ_SECONDS:-$(( targets > 0 ? 600 / targets : 60 ))}
[ "$fuzz_seconds" -lt 20 ] && fuzz_seconds=20
echo "== fuzzing: ${fuzz_seconds}s for each of $targets targets =="
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RAMPART_RULES_DIR="$PWD/rules" RAMPART_CACHE_DIR="$PWD/build-asan/rule-cache"
while read -r target; do
  [ -n "$target" ] || continue
  mkdir -p "$work/$target" build-asan/fuzz-artifacts
  # Fuzz a copy of the corpus so the committed seeds stay small.
  cp -r "fuzz/corpus/$target/." "$work/$target/" 2>/dev/null || true
  echo "-- $target"
  ASAN_OPTIONS=detect_leaks=1 "build-asan/fuzz/$target" "$work/$target" \
    -max_total_time="$fuzz_seconds" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="build-asan/fuzz-artifacts/$target-" 2>"$work/$target.log" || {
      tail -50 "$work/$target.log"
      echo "fuzz target $target failed; reproducer in build-asan/fuzz-artifacts/" >&2
      exit 1
    }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$target.log" | tr '\n' ' '
  echo
done < build-asan/fuzzers.txt
echo "all tests, sanitizer tests and fuzz runs passed"
