// Fuzzes the pickle VM and the model scanner with arbitrary bytes under default and tight
// limits, and checks that every event lies inside the input, the VM never reads past the
// end, and a scan that did not complete says so.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "supply/model_scanner.h"
#include "supply/pickle_vm.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "pickle_vm_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

class CheckingVisitor : public rampart::supply::PickleVisitor {
 public:
  explicit CheckingVisitor(std::string_view data) : data_(data) {}
  void OnEvent(const rampart::supply::PickleEvent& e) override {
    Check(e.offset < data_.size(), "event offset inside the input");
    Check(e.offset >= last_, "events in input order");
    last_ = e.offset;
    if (!e.arg_bytes.empty()) {
      Check(e.arg_bytes.data() >= data_.data() &&
                e.arg_bytes.data() + e.arg_bytes.size() <= data_.data() + data_.size(),
            "argument bytes are a view into the input");
      Check(e.arg_bytes_offset + e.arg_bytes.size() <= data_.size(), "argument offset");
    }
  }

 private:
  std::string_view data_;
  uint64_t last_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace rampart::supply;
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  static const ModelScanner* scanner = [] {
    ScanOptions o;
    o.zip.max_entry_bytes = 1 << 20;
    o.max_gzip_bytes = 1 << 20;
    return new ModelScanner(std::move(o));
  }();
  {
    CheckingVisitor v(data);
    PickleRunResult r = PickleVm().Run(data, v);
    Check(r.bytes_consumed <= size, "consumed within input");
    if (r.outcome != PickleOutcome::kComplete) {
      Check(r.error_offset <= size, "error offset within input");
      Check(!r.error.empty(), "an error says what failed");
    }
  }
  {
    PickleLimits tight;
    tight.max_stack = 16;
    tight.max_marks = 4;
    tight.max_memo = 8;
    tight.max_opcodes = 64;
    tight.max_kept_string = 8;
    CheckingVisitor v(data);
    PickleRunResult r = PickleVm(tight).Run(data, v);
    Check(r.opcodes <= 64 + 1, "opcode limit holds");
  }
  PickleVm::LooksLikePickle(data, true);
  ScanReport report = scanner->Scan(data);
  for (const auto& f : report.findings) {
    Check(!f.id.empty(), "finding has an id");
    if ((f.id == "pickle.truncated" || f.id == "pickle.malformed") && f.location.empty()) {
      Check(!report.complete(), "truncated or malformed is never complete");
    }
  }
  return 0;
}
