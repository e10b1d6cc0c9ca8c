#!/usr/bin/env bash
# Installs the Debian 12 packages Rampart needs to build, test, fuzz and benchmark.
# Idempotent: packages already present are left alone; nothing is downloaded from
# anywhere but the Debian archive.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev llvm-14 clang-format clang-tidy
  # libraries (see DESIGN.md section 4)
  libhyperscan-dev libicu-dev libssl-dev libsqlite3-dev
  libboost1.81-dev libboost-json1.81-dev
  libyaml-cpp-dev libabsl-dev libcli11-dev libfmt-dev libspdlog-dev
  zlib1g-dev libarchive-dev libvalijson-dev libhiredis-dev libjemalloc-dev
  # the shared state store (stores.state: redis) and its tests run a real Redis
  redis-server
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # model-family comparison (bench/compare_fasttext.sh): the fastText CLI
  fasttext
)

# bench/gateway_bench.sh also needs nginx (the reference proxy) and wrk, and
# bench/gateway_instructions.sh valgrind:
#   scripts/install-deps.sh --bench
if [ "${1:-}" = "--bench" ]; then
  packages+=(nginx wrk valgrind)
fi

# Node.js runs the official openai npm client in the gateway compatibility test. A machine
# that already has node (any recent version) keeps it; otherwise Debian's nodejs and npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
