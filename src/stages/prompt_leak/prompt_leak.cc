#include "stages/prompt_leak/prompt_leak.h"

#include <algorithm>
#include <boost/json.hpp>
#include <list>
#include <mutex>
#include <unordered_map>

#include "common/strings.h"
#include "config/field_reader.h"
#include "detectors/prompt_leak.h"
#include "stages/common/leak_support.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

namespace json = boost::json;

constexpr std::string_view kMarker = "[rampart: removed text that repeats protected instructions]";
constexpr size_t kMaxProtected = 256;
constexpr size_t kMaxProtectedBytes = 65536;

struct PromptLeakOptions {
  bool protect_system_prompt = true;
  uint64_t min_prompt_words = 12;
  detectors::PromptLeakOptions detector;
  bool redact = false;
  int block_status = 403;
  uint64_t stream_window = 512;
};

// Applications send the same system prompt with every request: its index is kept in a small
// LRU cache keyed by the prompt text, so most exchanges skip building it.
class IndexCache {
 public:
  explicit IndexCache(size_t capacity) : capacity_(capacity) {}

  std::shared_ptr<const detectors::PromptLeakIndex> Get(
      const std::string& prompt, const detectors::PromptLeakOptions& options) {
    if (capacity_ == 0 || prompt.size() > kMaxCachedPrompt) return Build(prompt, options);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(prompt);
      if (it != map_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->second;
      }
    }
    auto index = Build(prompt, options);
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.find(prompt) == map_.end()) {
      lru_.emplace_front(prompt, index);
      map_.emplace(prompt, lru_.begin());
      if (lru_.size() > capacity_) {
        map_.erase(lru_.back().first);
        lru_.pop_back();
      }
    }
    return index;
  }

 private:
  static constexpr size_t kMaxCachedPrompt = 65536;
  static std::shared_ptr<const detectors::PromptLeakIndex> Build(
      const std::string& prompt, const detectors::PromptLeakOptions& options) {
    return std::make_shared<const detectors::PromptLeakIndex>(
        std::vector<std::pair<std::string, std::string>>{{"system_prompt", prompt}}, options);
  }

  const size_t capacity_;
  std::mutex mu_;
  using Entry = std::pair<std::string, std::shared_ptr<const detectors::PromptLeakIndex>>;
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
};

class PromptLeakFactory : public pipeline::StageFactory {
 public:
  PromptLeakFactory(PromptLeakOptions opts, std::shared_ptr<const detectors::PromptLeakIndex> fixed,
                    size_t cache_entries, pipeline::Metrics* metrics)
      : opts_(std::move(opts)),
        fixed_(std::move(fixed)),
        cache_(cache_entries),
        metrics_(metrics) {}
  std::unique_ptr<pipeline::Stage> Create() const override;

  PromptLeakOptions opts_;
  std::shared_ptr<const detectors::PromptLeakIndex> fixed_;  // null: no protected strings
  mutable IndexCache cache_;
  pipeline::Metrics* metrics_;
};

// Same notion of a word as detectors/prompt_leak.cc: letters, digits and non-ASCII bytes.
bool WordChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

size_t CountWords(std::string_view s) {
  size_t n = 0;
  bool in = false;
  for (unsigned char c : s) {
    const bool w = WordChar(c);
    if (w && !in) ++n;
    in = w;
  }
  return n;
}

// Start of the `k` words that end at `end` in `text` (0 when fewer words precede it).
size_t ShingleStart(std::string_view text, size_t end, uint32_t k) {
  size_t p = std::min(end, text.size());
  for (uint32_t i = 0; i < k; ++i) {
    while (p > 0 && !WordChar(static_cast<unsigned char>(text[p - 1]))) --p;
    while (p > 0 && WordChar(static_cast<unsigned char>(text[p - 1]))) --p;
  }
  return p;
}

std::string_view RuleFor(const std::string& name) {
  return name == "system_prompt" ? "prompt_leak.system_prompt" : "prompt_leak.protected";
}

class PromptLeak : public pipeline::Stage {
 public:
  explicit PromptLeak(const PromptLeakFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnResponse(pipeline::Exchange& ex) override {
    pipeline::Decision out;
    auto indexes = Indexes(ex);
    if (indexes.empty()) return out;
    bool leaked = false;
    const uint32_t k = std::max<uint32_t>(f_.opts_.detector.shingle_words, 1);
    ForEachString(ex.response, [&](const std::string& pointer, json::string& s) {
      if (leaked && !f_.opts_.redact) return;
      std::string_view text(s.data(), s.size());
      Verdict v;
      size_t cut = text.size();
      for (const auto& index : indexes) {
        detectors::PromptLeakMatcher m(index);
        auto leaks = m.Feed(text);
        auto tail = m.Finish();
        leaks.insert(leaks.end(), tail.begin(), tail.end());
        for (const auto& l : leaks) {
          const size_t begin = ShingleStart(text, l.first_end, k);
          cut = std::min(cut, begin);
          v.findings.push_back(
              LeakFinding("prompt_leak", RuleFor(l.name), begin, text.size(), "", "PROMPT"));
        }
      }
      if (v.findings.empty()) return;
      leaked = true;
      RecordFindings(v, "response", pointer, ex, f_.metrics_);
      if (f_.opts_.redact) s = StrCat(text.substr(0, cut), kMarker);
    });
    if (!leaked) return out;
    if (!f_.opts_.redact) {
      return pipeline::Decision::Block(f_.opts_.block_status, "prompt_leak.leak",
                                       BlockMessage("prompt_leak.leak", true));
    }
    out.action = Action::kRedact;
    out.reason = "prompt_leak.redacted";
    return out;
  }

  absl::StatusOr<pipeline::Decision> OnResponseText(pipeline::Exchange& ex, std::string& text,
                                                    bool last) override {
    pipeline::Decision out;
    if (!started_) {
      started_ = true;
      for (auto& index : Indexes(ex)) matchers_.emplace_back(std::move(index));
    }
    if (suppressed_ || matchers_.empty()) {
      // Nothing to protect: pass through. After a redaction: the rest of the choice is dropped.
      if (suppressed_) text.clear();
      return out;
    }
    std::vector<detectors::PromptLeak> leaks;
    for (auto& m : matchers_) {
      auto got = m.Feed(text);
      if (last) {
        auto tail = m.Finish();
        got.insert(got.end(), tail.begin(), tail.end());
      }
      leaks.insert(leaks.end(), got.begin(), got.end());
    }
    hold_.Append(text);
    text.clear();
    if (!leaks.empty()) {
      const uint32_t k = std::max<uint32_t>(f_.opts_.detector.shingle_words, 1);
      Verdict v;
      uint64_t cut = hold_.end();
      for (const auto& l : leaks) {
        uint64_t begin = hold_.start();
        if (l.first_end > hold_.start()) {
          begin = hold_.start() + ShingleStart(hold_.pending(), l.first_end - hold_.start(), k);
        }
        cut = std::min(cut, begin);
        v.findings.push_back(
            LeakFinding("prompt_leak", RuleFor(l.name), begin, hold_.end(), "", "PROMPT"));
      }
      RecordFindings(v, "response", "/stream", ex, f_.metrics_);
      if (!f_.opts_.redact) {
        hold_.Clear();
        return pipeline::Decision::Block(f_.opts_.block_status, "prompt_leak.leak",
                                         BlockMessage("prompt_leak.leak", true));
      }
      text = StrCat(hold_.Release(cut), kMarker);
      hold_.Clear();
      suppressed_ = true;
      out.action = Action::kRedact;
      out.reason = "prompt_leak.redacted";
      return out;
    }
    uint64_t upto = hold_.end();
    if (!last) {
      upto = hold_.end() > f_.opts_.stream_window ? hold_.end() - f_.opts_.stream_window : 0;
      upto = Utf8Floor(hold_, std::max(upto, hold_.start()));
    }
    text = hold_.Release(upto);
    return out;
  }

 private:
  // The configured strings' index and this exchange's system-prompt index, if any.
  std::vector<std::shared_ptr<const detectors::PromptLeakIndex>> Indexes(
      const pipeline::Exchange& ex) const {
    std::vector<std::shared_ptr<const detectors::PromptLeakIndex>> out;
    if (f_.fixed_) out.push_back(f_.fixed_);
    if (f_.opts_.protect_system_prompt) {
      std::vector<std::string> prompts = SystemPrompts(ex.request);
      std::string joined = StrJoin(prompts, "\n");
      if (CountWords(joined) >= f_.opts_.min_prompt_words) {
        out.push_back(f_.cache_.Get(joined, f_.opts_.detector));
      }
    }
    return out;
  }

  const PromptLeakFactory& f_;
  bool started_ = false;
  bool suppressed_ = false;
  std::vector<detectors::PromptLeakMatcher> matchers_;
  HoldBack hold_;
};

std::unique_ptr<pipeline::Stage> PromptLeakFactory::Create() const {
  return pipeline::MakeStage<PromptLeak>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildPromptLeak(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  PromptLeakOptions opts;
  std::vector<std::string> protected_strings;
  std::string action = "block";
  uint64_t status = 403, shingle_words = 5, min_shingles = 8, cache_entries = 64;
  if (auto st = r->Bool("protect_system_prompt", &opts.protect_system_prompt); !st.ok()) return st;
  if (auto st = r->Uint("min_prompt_words", &opts.min_prompt_words, 1, 100000); !st.ok()) return st;
  if (auto st = r->StringList("protected", &protected_strings); !st.ok()) return st;
  if (auto st = r->Uint("shingle_words", &shingle_words, 2, 16); !st.ok()) return st;
  if (auto st = r->Uint("min_shingles", &min_shingles, 1, 100000); !st.ok()) return st;
  if (auto st = r->Double("min_fraction", &opts.detector.min_fraction, 0.01, 1.0); !st.ok())
    return st;
  if (auto st = r->Enum("action", {"block", "redact"}, &action); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->Uint("stream_window", &opts.stream_window, 64, 65536); !st.ok()) return st;
  if (auto st = r->Uint("index_cache", &cache_entries, 0, 4096); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  if (protected_strings.size() > kMaxProtected) {
    return config::FieldError(
        r->Path("protected"),
        StrCat("at most ", kMaxProtected, " strings, got ", protected_strings.size()));
  }
  std::vector<std::pair<std::string, std::string>> named;
  for (size_t i = 0; i < protected_strings.size(); ++i) {
    const std::string& s = protected_strings[i];
    const std::string path = StrCat(r->Path("protected"), "[", i, "]");
    if (s.size() > kMaxProtectedBytes) {
      return config::FieldError(path, StrCat("must be at most ", kMaxProtectedBytes, " bytes"));
    }
    if (CountWords(s) == 0) return config::FieldError(path, "has no words to protect");
    named.emplace_back(StrCat("protected[", i, "]"), s);
  }
  if (!opts.protect_system_prompt && named.empty()) {
    return config::FieldError(r->path(),
                              "nothing to protect: protect_system_prompt is false and "
                              "`protected` is empty");
  }
  opts.detector.shingle_words = static_cast<uint32_t>(shingle_words);
  opts.detector.min_shingles = static_cast<uint32_t>(min_shingles);
  opts.redact = action == "redact";
  opts.block_status = static_cast<int>(status);
  std::shared_ptr<const detectors::PromptLeakIndex> fixed;
  if (!named.empty()) {
    fixed = std::make_shared<const detectors::PromptLeakIndex>(named, opts.detector);
  }
  return std::make_unique<PromptLeakFactory>(std::move(opts), std::move(fixed),
                                             static_cast<size_t>(cache_entries), ctx.metrics);
}

}  // namespace rampart::stages
