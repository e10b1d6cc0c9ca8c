// Benchmarks of the pickle VM and the model scanner on a generated pickle of ~20 million
// opcodes: a long list of small ints and floats appended in batches of 1000 with
// MARK ... APPENDS, framed as protocol 4 writes it (the bulk of a large pickled state).
//
//   build/bench/pickle_scan_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "supply/model_scanner.h"
#include "supply/pickle_vm.h"

namespace rampart::supply {
namespace {

void Le(std::string* out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// PROTO 4, EMPTY_LIST, MEMOIZE, then `batches` x (FRAME, MARK, 1000 items, APPENDS), STOP.
// Items cycle through 6 BININT1, 1 BININT2 and 1 BINFLOAT.
std::string BigListPickle(uint64_t batches) {
  std::string body;
  std::string out = "\x80\x04]\x94";
  out.reserve(batches * 3100 + 16);
  uint64_t k = 0;
  for (uint64_t b = 0; b < batches; ++b) {
    body.clear();
    body.push_back('(');
    for (int i = 0; i < 1000; ++i, ++k) {
      switch (k % 8) {
        case 6:
          body.push_back('M');
          Le(&body, k & 0xFFFF, 2);
          break;
        case 7: {
          body.push_back('G');
          double d = static_cast<double>(k) * 0.5;
          uint64_t bits;
          std::memcpy(&bits, &d, 8);
          for (int j = 7; j >= 0; --j) body.push_back(static_cast<char>((bits >> (8 * j)) & 0xFF));
          break;
        }
        default:
          body.push_back('K');
          body.push_back(static_cast<char>(k & 0xFF));
      }
    }
    body.push_back('e');
    out.push_back('\x95');
    Le(&out, body.size(), 8);
    out += body;
  }
  out.push_back('.');
  return out;
}

// 19,960 batches of 1,002 opcodes plus FRAME each: 20.0 million opcodes.
const std::string& Pickle20M() {
  static const std::string* p = new std::string(BigListPickle(19960));
  return *p;
}

class NullVisitor : public PickleVisitor {
 public:
  void OnEvent(const PickleEvent&) override {}
};

void BM_PickleVm20MOpcodes(benchmark::State& state) {
  const std::string& p = Pickle20M();
  PickleVm vm;
  uint64_t opcodes = 0;
  for (auto _ : state) {
    NullVisitor v;
    PickleRunResult r = vm.Run(p, v);
    if (r.outcome != PickleOutcome::kComplete) state.SkipWithError("pickle did not complete");
    opcodes = r.opcodes;
    benchmark::DoNotOptimize(r);
  }
  state.counters["opcodes"] = static_cast<double>(opcodes);
  state.counters["opcodes/s"] = benchmark::Counter(static_cast<double>(opcodes),
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.size()));
}
BENCHMARK(BM_PickleVm20MOpcodes)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ModelScanner20MOpcodes(benchmark::State& state) {
  const std::string& p = Pickle20M();
  ModelScanner scanner;
  for (auto _ : state) {
    ScanReport r = scanner.Scan(p);
    if (!r.complete() || !r.findings.empty()) state.SkipWithError("unexpected findings");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.size()));
}
BENCHMARK(BM_ModelScanner20MOpcodes)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace rampart::supply

BENCHMARK_MAIN();
