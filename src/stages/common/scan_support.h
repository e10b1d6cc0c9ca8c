// Helpers shared by the scanning stages (input_scan, output_scan): a pool of per-thread
// Scanner contexts and the mapping from a Scanner verdict to a stage Decision.
//
// Thread safety: ContextPool may be used concurrently; a leased context by one thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "detectors/scanner.h"
#include "pipeline/exchange.h"
#include "pipeline/stage.h"

namespace rampart::stages {

// Scanner contexts hold Hyperscan scratch and normalization buffers; creating one per exchange
// would dominate the cost of a short prompt, so exchanges lease one from a bounded pool.
class ContextPool {
 public:
  explicit ContextPool(std::shared_ptr<const detectors::Scanner> scanner, size_t max_idle = 64)
      : scanner_(std::move(scanner)), max_idle_(max_idle) {}

  class Lease {
   public:
    Lease(ContextPool* pool, std::unique_ptr<detectors::Scanner::Context> ctx)
        : pool_(pool), ctx_(std::move(ctx)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (ctx_) pool_->Return(std::move(ctx_));
    }
    detectors::Scanner::Context& operator*() { return *ctx_; }

   private:
    ContextPool* pool_;
    std::unique_ptr<detectors::Scanner::Context> ctx_;
  };

  Lease Acquire();
  const detectors::Scanner& scanner() const { return *scanner_; }

 private:
  void Return(std::unique_ptr<detectors::Scanner::Context> ctx);
  std::shared_ptr<const detectors::Scanner> scanner_;
  size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<detectors::Scanner::Context>> idle_;
};

// Options common to both scanning stages, read from the stage's config block:
//   policy: FILE         # policy file (docs/policy.md). Default: the built-in policy
//   block_status: 400    # HTTP status of a block (input_scan). Default: 400 in, 502 out
struct ScanStageOptions {
  std::string policy;
  int block_status = 400;
  // Bytes of streamed text held back so a pattern split across pieces is still seen whole.
  // Default: 256 (output_scan only).
  uint64_t stream_window = 256;
};

// Client-safe message for a blocked verdict; names the reason, never the content.
std::string BlockMessage(const std::string& reason, bool response);

// Appends findings to the record with `field` prefixed by `where` ("request" or "response").
void RecordFindings(const Verdict& v, std::string_view where, std::string_view pointer,
                    pipeline::Exchange& ex, pipeline::Metrics* metrics);

// Scans `texts` (request or response fields of `ex`) in order: records findings, blocks on the
// first blocking verdict, writes redactions back into the payload, and returns the strongest
// non-blocking action. `response` selects the direction's wording and record prefix.
absl::StatusOr<pipeline::Decision> ScanTexts(std::vector<pipeline::TextRef>& texts, bool response,
                                             ContextPool& pool, const ScanStageOptions& opts,
                                             pipeline::Exchange& ex, pipeline::Metrics* metrics);

}  // namespace rampart::stages
