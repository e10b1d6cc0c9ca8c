// Hashing throughput of supply/file_hasher.h, the work behind `rampart manifest` and
// `rampart sign|verify`. See docs/benchmarks.md for the commands and results.
//
// Files are generated once under $RAMPART_BENCH_DIR (default /tmp/rampart-hash-bench):
//   one large file of $RAMPART_BENCH_HASH_MB MiB (default 1024) and 64 files of 16 MiB.
// Numbers are warm page cache; the first run after generation also is.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "supply/file_hasher.h"

namespace {

namespace fs = std::filesystem;
using rampart::supply::FileDigest;

std::string Dir() {
  const char* d = std::getenv("RAMPART_BENCH_DIR");
  return d != nullptr ? d : "/tmp/rampart-hash-bench";
}

uint64_t LargeBytes() {
  const char* mb = std::getenv("RAMPART_BENCH_HASH_MB");
  return (mb != nullptr ? std::strtoull(mb, nullptr, 10) : 1024) << 20;
}

void Generate(const std::string& path, uint64_t bytes) {
  std::error_code ec;
  if (fs::exists(path, ec) && fs::file_size(path, ec) == bytes) return;
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string block(1 << 20, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint64_t done = 0; done < bytes; done += block.size()) {
    for (size_t i = 0; i < block.size(); i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::memcpy(&block[i], &x, 8);
    }
    out.write(block.data(),
              static_cast<std::streamsize>(std::min<uint64_t>(block.size(), bytes - done)));
  }
}

void BM_HashOneLargeFile(benchmark::State& state) {
  const std::string path = Dir() + "/large.safetensors";
  Generate(path, LargeBytes());
  for (auto _ : state) {
    absl::StatusOr<FileDigest> d = rampart::supply::HashFile(path);
    if (!d.ok()) state.SkipWithError("hash failed");
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * LargeBytes()));
}
BENCHMARK(BM_HashOneLargeFile)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_HashManyFiles(benchmark::State& state) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  constexpr int kFiles = 64;
  constexpr uint64_t kBytes = uint64_t{16} << 20;
  std::vector<std::string> names;
  for (int i = 0; i < kFiles; ++i) {
    names.push_back("many/shard-" + std::to_string(i) + ".bin");
    Generate(Dir() + "/" + names.back(), kBytes);
  }
  for (auto _ : state) {
    auto d = rampart::supply::HashFiles(Dir(), names, threads);
    if (!d.ok()) state.SkipWithError("hash failed");
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kFiles * kBytes));
}
BENCHMARK(BM_HashManyFiles)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
