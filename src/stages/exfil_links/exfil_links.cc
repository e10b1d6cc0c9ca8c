#include "stages/exfil_links/exfil_links.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/strings.h"
#include "config/field_reader.h"
#include "detectors/exfil_links.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

struct ExfilOptions {
  detectors::ExfilLinkOptions finder;
  bool block = false;
  int block_status = 403;
  uint64_t stream_window = 256;
  uint64_t max_hold = 16384;
};

class ExfilLinksFactory : public pipeline::StageFactory {
 public:
  ExfilLinksFactory(ExfilOptions opts, pipeline::Metrics* metrics)
      : finder_(opts.finder), opts_(std::move(opts)), metrics_(metrics) {}
  std::unique_ptr<pipeline::Stage> Create() const override;

  detectors::ExfilLinkFinder finder_;
  ExfilOptions opts_;
  pipeline::Metrics* metrics_;
};

Verdict LinkFindings(const std::vector<detectors::ExfilLink>& links) {
  Verdict v;
  for (const auto& l : links) {
    Finding f;
    f.detector = "exfil_links";
    f.rule = StrCat("exfil.", detectors::LinkKindName(l.kind));
    // No category of its own: a data-carrying link in output is what an indirect prompt
    // injection produces to leak the conversation.
    f.category = Category::kPromptInjection;
    f.severity = Severity::kHigh;
    f.score = 1.0f;
    f.span = Span{static_cast<uint32_t>(l.begin), static_cast<uint32_t>(l.end)};
    v.findings.push_back(std::move(f));
  }
  return v;
}

pipeline::Decision Blocked(const ExfilOptions& o) {
  return pipeline::Decision::Block(o.block_status, "exfil_links.blocked",
                                   BlockMessage("exfil_links.blocked", true));
}

size_t Utf8Boundary(std::string_view s, size_t pos) {
  while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

// End of a Markdown destination starting at `start` (after "]("), as the finder reads it.
size_t DestinationEnd(std::string_view text, size_t start) {
  if (start < text.size() && text[start] == '<') {
    size_t close = text.find('>', start);
    return close == std::string_view::npos ? close : close + 1;
  }
  int depth = 0;
  for (size_t i = start; i < text.size(); ++i) {
    char c = text[i];
    if (c == '(') ++depth;
    if (c == ')') {
      if (depth == 0) return i;
      --depth;
    }
    if (c == ' ' || c == '\n' || c == '\t') return i;
  }
  return std::string_view::npos;
}

class ExfilLinks : public pipeline::Stage {
 public:
  explicit ExfilLinks(const ExfilLinksFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnResponse(pipeline::Exchange& ex) override {
    pipeline::Decision out;
    for (auto& t : pipeline::ResponseTexts(ex)) {
      std::string_view s(t.text->data(), t.text->size());
      std::vector<detectors::ExfilLink> links;
      std::string removed = f_.finder_.Remove(s, &links);
      if (links.empty()) continue;
      RecordFindings(LinkFindings(links), "response", t.pointer, ex, f_.metrics_);
      if (f_.opts_.block) return Blocked(f_.opts_);
      *t.text = removed;
      out.action = Action::kRedact;
      out.reason = "exfil_links.removed";
    }
    return out;
  }

  absl::StatusOr<pipeline::Decision> OnResponseText(pipeline::Exchange& ex, std::string& text,
                                                    bool last) override {
    const ExfilOptions& o = f_.opts_;
    pending_ += text;
    text.clear();
    pipeline::Decision out;
    if (pending_.empty()) return out;
    // Released in batches of at least half a window, so each byte is searched a few times,
    // not once per piece; nothing is sent before it is released, so a block loses nothing.
    const size_t batch = std::max<uint64_t>(16, o.stream_window);
    if (!last && pending_.size() < o.stream_window + batch) return out;
    // Every construct the finder reads has a ']' (Markdown) or a '<' (HTML).
    std::vector<detectors::ExfilLink> links;
    // The finder judges reference definitions ("[id]: url") as images when the text uses
    // reference images ("![alt][id]"); in a stream the use may have been released already.
    if (!reference_images_) {
      reference_images_ =
          pending_.find("![") != std::string::npos && pending_.find("][") != std::string::npos;
    }
    if (pending_.find_first_of("]<") != std::string::npos) links = Find(pending_);
    if (o.block && !links.empty()) {
      RecordFindings(LinkFindings(links), "response", StrCat("/stream@", released_bytes_), ex,
                     f_.metrics_);
      pending_.clear();
      return Blocked(o);
    }
    size_t release = pending_.size();
    size_t escape_at = std::string::npos;
    if (!last) {
      release = pending_.size() > o.stream_window ? pending_.size() - o.stream_window : 0;
      // Never cut through a link: it is judged, and removed, once it is whole.
      for (const auto& l : links) {
        if (l.begin < release && l.end > release) release = l.begin;
      }
      size_t open = OpenLinkStart(pending_);
      if (open != std::string::npos && open < release) {
        if (pending_.size() > o.max_hold) {
          // Held too long: let it go, but with its opening character escaped.
          escape_at = open;
        } else {
          release = open;
        }
      }
      release = Utf8Boundary(pending_, release);
    }
    if (release == 0) return out;
    std::string head = pending_.substr(0, release);
    if (escape_at != std::string::npos && escape_at < head.size()) {
      // Every bracket and tag opening from the open construct on, so none of them can pair
      // with what is still to come.
      std::string escaped = head.substr(0, escape_at);
      for (size_t i = escape_at; i < head.size(); ++i) {
        if (head[i] == '<') {
          escaped += "&lt;";
        } else if (head[i] == '[') {
          escaped += "\\[";
        } else {
          escaped += head[i];
        }
      }
      head = std::move(escaped);
      if (f_.metrics_ != nullptr && ex.route != nullptr) {
        f_.metrics_->Add("rampart_exfil_links_escaped_total",
                         StrCat("route=\"", pipeline::LabelValue(ex.route->name), "\""), 1,
                         "Streamed constructs released escaped after max_hold bytes");
      }
    }
    // Every link of the head is one of `links` that starts before the cut (a prefix holds no
    // construct the whole text lacks), so without those the head needs no second search.
    const bool has_links =
        std::any_of(links.begin(), links.end(), [&](const auto& l) { return l.begin < release; });
    std::vector<detectors::ExfilLink> removed;
    std::string cleaned;
    if (has_links || escape_at != std::string::npos) cleaned = Remove(head, &removed);
    if (!removed.empty()) {
      RecordFindings(LinkFindings(removed), "response", StrCat("/stream@", released_bytes_), ex,
                     f_.metrics_);
      out.action = Action::kRedact;
      out.reason = "exfil_links.removed";
      text = std::move(cleaned);
    } else {
      text = std::move(head);
    }
    released_bytes_ += release;
    pending_.erase(0, release);
    return out;
  }

 private:
  const ExfilLinksFactory& f_;
  // A prefix that holds no link but turns the finder's reference-image reading on.
  static constexpr std::string_view kReferenceImage = "![x][x]\n";

  std::vector<detectors::ExfilLink> Find(std::string_view text) const {
    if (!reference_images_) return f_.finder_.Find(text);
    std::vector<detectors::ExfilLink> links = f_.finder_.Find(StrCat(kReferenceImage, text));
    for (auto& l : links) {
      l.begin -= kReferenceImage.size();
      l.end -= kReferenceImage.size();
      l.url_begin -= kReferenceImage.size();
      l.url_end -= kReferenceImage.size();
    }
    return links;
  }
  std::string Remove(std::string_view text, std::vector<detectors::ExfilLink>* removed) const {
    if (!reference_images_) return f_.finder_.Remove(text, removed);
    std::string out = f_.finder_.Remove(StrCat(kReferenceImage, text), removed);
    for (auto& l : *removed) {
      l.begin -= kReferenceImage.size();
      l.end -= kReferenceImage.size();
    }
    return out.substr(kReferenceImage.size());
  }

  std::string pending_;
  uint64_t released_bytes_ = 0;
  bool reference_images_ = false;
};

std::unique_ptr<pipeline::Stage> ExfilLinksFactory::Create() const {
  return pipeline::MakeStage<ExfilLinks>(*this);
}

}  // namespace

size_t OpenLinkStart(std::string_view s) {
  constexpr size_t npos = std::string::npos;
  size_t open = npos;
  // Markdown: a bracket on the unfinished last line (the finder never pairs brackets across
  // lines) whose construct is not complete yet.
  size_t line = s.rfind('\n');
  line = line == npos ? 0 : line + 1;
  size_t b = s.rfind('[');
  if (b != npos && b >= line) {
    size_t start = b > 0 && s[b - 1] == '!' ? b - 1 : b;
    size_t close = s.find(']', b);
    bool is_open = true;
    if (close != npos && close + 1 < s.size()) {
      char next = s[close + 1];
      if (next == '(') {
        size_t ue = DestinationEnd(s, close + 2);
        is_open = ue == npos || s.find(')', ue) == npos;
      } else if (next == ':') {
        is_open = true;  // a reference definition: its URL runs to the end of the line
      } else {
        is_open = false;  // "[text]" followed by anything else is not a link
      }
    }
    if (is_open) open = start;
  }
  // HTML: a tag whose '>' has not arrived.
  size_t lt = s.rfind('<');
  if (lt != npos && s.find('>', lt) == npos) open = std::min(open, lt);
  return open;
}

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildExfilLinks(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  ExfilOptions opts;
  std::string action = "remove";
  uint64_t status = 403;
  uint64_t max_plain_path = opts.finder.max_plain_path;
  if (auto st = r->StringList("allow_domains", &opts.finder.allowed_domains); !st.ok()) return st;
  if (auto st = r->Enum("action", {"remove", "block"}, &action); !st.ok()) return st;
  if (auto st = r->Uint("max_plain_path", &max_plain_path, 0, 65536); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->Uint("stream_window", &opts.stream_window, 16, 65536); !st.ok()) return st;
  if (auto st = r->Uint("max_hold", &opts.max_hold, 16, 1u << 20); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  for (size_t i = 0; i < opts.finder.allowed_domains.size(); ++i) {
    const std::string& d = opts.finder.allowed_domains[i];
    if (d.empty() || d.size() > 253 || d.find_first_of("/:@ *?#") != std::string::npos ||
        d.front() == '.') {
      return config::FieldError(StrCat(r->Path("allow_domains"), "[", i, "]"),
                                StrCat("must be a bare domain name (example.com), got '", d, "'"));
    }
  }
  if (opts.max_hold < opts.stream_window) {
    return config::FieldError(r->Path("max_hold"), "must be at least stream_window");
  }
  opts.finder.max_plain_path = max_plain_path;
  opts.block = action == "block";
  opts.block_status = static_cast<int>(status);
  return std::make_unique<ExfilLinksFactory>(std::move(opts), ctx.metrics);
}

}  // namespace rampart::stages
