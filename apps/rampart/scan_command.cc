// rampart scan: the text-inspection pipeline as a command for pipelines and people.
//
//   rampart scan [--policy P] [--json] [--redacted] TEXT
//   rampart scan [...] --file F          (a document, streamed in windows)
//   rampart scan [...] --jsonl F [--field text]   (one verdict per record, progress on stderr)
//   rampart scan [...]                   (standard input as one text)
//
// Exit: 0 when every verdict is below the policy's fail level, 1 when one is at or above
// it, 2 when an input could not be read (never "clean" then).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "common/file.h"
#include "common/line_reader.h"
#include "common/strings.h"
#include "detectors/scanner.h"
#include "json_output.h"
#include "model_common.h"
#include "text/normalizer.h"

namespace rampart::cli {
namespace {

struct ScanFlags {
  std::string policy;
  std::string rules;
  bool json = false;
  bool redacted = false;
  std::string text;
  std::string file;
  std::string jsonl;
  std::string field = "text";
  std::string fail_on;
  bool progress = false;
  bool quiet = false;
  size_t window_bytes = 1 << 20;
  std::string model;
  bool no_model = false;
  std::string operating_point = "balanced";
};

constexpr size_t kMaxStdinBytes = 64u << 20;
constexpr size_t kMaxJsonlLineBytes = 16u << 20;

void PrintHuman(const Verdict& v, bool with_redacted, const std::string& prefix) {
  std::printf("%sverdict: %s", prefix.c_str(), std::string(ActionName(v.action)).c_str());
  if (!v.reason.empty()) std::printf(" (%s)", v.reason.c_str());
  std::printf("\n");
  if (!v.findings.empty()) {
    std::printf("%s  %-13s %-9s %-18s %-34s %s\n", prefix.c_str(), "SPAN", "SEVERITY", "CATEGORY",
                "RULE", "VIA");
    for (const auto& f : v.findings) {
      std::string span = StrCat(f.span.begin, "-", f.span.end);
      std::printf("%s  %-13s %-9s %-18s %-34s %s\n", prefix.c_str(), span.c_str(),
                  std::string(SeverityName(f.severity)).c_str(),
                  std::string(CategoryName(f.category)).c_str(), f.rule.c_str(),
                  f.decoded_via.empty() ? "-" : f.decoded_via.c_str());
    }
  }
  if (with_redacted && v.edited_text) {
    std::printf("%sredacted:\n%s\n", prefix.c_str(), v.edited_text->c_str());
  }
}

class Runner {
 public:
  Runner(const ScanFlags& flags, const detectors::Scanner& scanner, Action fail_on)
      : flags_(flags), scanner_(scanner), fail_on_(fail_on), ctx_(scanner.NewContext()) {}

  int Run() {
    if (!flags_.jsonl.empty()) return RunJsonl();
    if (!flags_.file.empty()) return RunFile();
    if (!flags_.text.empty()) return Finish(ScanOne(flags_.text));
    // Standard input as one text.
    std::string input;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
      if (input.size() + n > kMaxStdinBytes) {
        return ReportError("scan", absl::ResourceExhaustedError(
                                       StrCat("standard input is larger than ", kMaxStdinBytes,
                                              " bytes; use --file or --jsonl to stream it")));
      }
      input.append(buf, n);
    }
    return Finish(ScanOne(input));
  }

 private:
  // Scans one text and prints it. Returns false when the text could not be read.
  bool ScanOne(std::string_view text) {
    auto v = scanner_.Scan(text, *ctx_);
    if (!v.ok()) {
      ReportError("scan", v.status());
      return false;
    }
    Record(*v);
    if (flags_.json) {
      std::cout << boost::json::serialize(VerdictToJson(*v, flags_.redacted)) << "\n";
    } else {
      PrintHuman(*v, flags_.redacted, "");
    }
    return true;
  }

  void Record(const Verdict& v) {
    ++records_;
    counts_[static_cast<size_t>(v.action)]++;
    if (v.action >= fail_on_) failed_ = true;
  }

  int Finish(bool read_ok) {
    if (!read_ok) return kExitError;
    return failed_ ? kExitFindings : kExitClean;
  }

  // A document is scanned in windows cut at a line break, so memory stays bounded whatever
  // its size. Spans are reported in file offsets; a redacted copy is the concatenation of
  // the windows' redactions.
  int RunFile() {
    FILE* f = std::fopen(flags_.file.c_str(), "rb");
    if (f == nullptr) {
      return ReportError("scan",
                         absl::NotFoundError(StrCat(flags_.file, ": ", std::strerror(errno))));
    }
    std::unique_ptr<FILE, int (*)(FILE*)> closer(f, std::fclose);
    Verdict total;
    std::string redacted;
    bool any_redacted = false;
    std::string carry;
    std::string window;
    uint64_t offset = 0;
    std::vector<char> buf(flags_.window_bytes);
    bool eof = false;
    while (!eof || !carry.empty()) {
      window.swap(carry);
      carry.clear();
      while (!eof && window.size() < flags_.window_bytes) {
        size_t n = std::fread(buf.data(), 1, flags_.window_bytes - window.size(), f);
        if (n == 0) {
          if (std::ferror(f)) {
            return ReportError("scan", absl::InternalError(flags_.file + ": read error"));
          }
          eof = true;
        }
        window.append(buf.data(), n);
      }
      if (!eof) {
        // Cut after the last line break, or at the last UTF-8 boundary when there is none.
        size_t cut = window.rfind('\n');
        if (cut == std::string::npos || cut < window.size() / 2) {
          cut = text::CompleteUtf8Prefix(window);
          if (cut == 0) cut = window.size();
        } else {
          ++cut;
        }
        carry.assign(window, cut, std::string::npos);
        window.resize(cut);
      }
      if (window.empty()) break;
      if (offset + window.size() > UINT32_MAX) {
        return ReportError("scan", absl::ResourceExhaustedError(
                                       flags_.file + ": documents over 4 GiB are not supported; "
                                                     "split the file or use --jsonl"));
      }
      auto v = scanner_.Scan(window, *ctx_);
      if (!v.ok()) {
        return ReportError(
            "scan", absl::Status(v.status().code(), StrCat(flags_.file, ": at byte ", offset, ": ",
                                                           v.status().message())));
      }
      for (auto& fd : v->findings) {
        fd.span.begin += static_cast<uint32_t>(offset);
        fd.span.end += static_cast<uint32_t>(offset);
        total.findings.push_back(std::move(fd));
      }
      if (v->action > total.action) {
        total.action = v->action;
        total.reason = v->reason;
      }
      if (v->edited_text) {
        any_redacted = true;
        redacted += *v->edited_text;
      } else {
        redacted += window;
      }
      offset += window.size();
    }
    if (any_redacted) total.edited_text = std::move(redacted);
    Record(total);
    if (flags_.json) {
      std::cout << boost::json::serialize(VerdictToJson(total, flags_.redacted)) << "\n";
    } else {
      PrintHuman(total, flags_.redacted, "");
    }
    return Finish(true);
  }

  int RunJsonl() {
    auto reader = LineReader::Open(flags_.jsonl, kMaxJsonlLineBytes);
    if (!reader.ok()) return ReportError("scan", reader.status());
    const bool show_progress = flags_.progress || (!flags_.quiet && isatty(STDERR_FILENO));
    auto start = std::chrono::steady_clock::now();
    auto last_report = start;
    std::string line;
    bool read_errors = false;
    boost::json::parse_options opts;
    opts.max_depth = 64;
    while (true) {
      auto more = (*reader)->Next(line);
      if (!more.ok()) {
        ReportError("scan", more.status());
        read_errors = true;
        break;
      }
      if (!*more) break;
      const uint64_t lineno = (*reader)->line_number();
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      boost::system::error_code ec;
      boost::json::value doc = boost::json::parse(line, ec, {}, opts);
      std::string error;
      const boost::json::string* text = nullptr;
      if (ec) {
        error = StrCat("line ", lineno, ": not valid JSON (", ec.message(), ")");
      } else if (!doc.is_object()) {
        error = StrCat("line ", lineno, ": not a JSON object");
      } else if (auto* t = doc.as_object().if_contains(flags_.field);
                 t == nullptr || !t->is_string()) {
        error = StrCat("line ", lineno, ": no string field '", flags_.field, "'");
      } else {
        text = &t->get_string();
      }
      boost::json::object out;
      out["line"] = lineno;
      if (!ec && doc.is_object()) {
        if (auto* id = doc.as_object().if_contains("id")) out["id"] = *id;
      }
      if (text != nullptr) {
        auto v =
            scanner_.Scan(std::string_view(text->data(), text->size()), *ctx_, "/" + flags_.field);
        if (v.ok()) {
          Record(*v);
          for (auto& [k, val] : VerdictToJson(*v, flags_.redacted)) out[k] = val;
        } else {
          error = StrCat("line ", lineno, ": ", v.status().message());
        }
      }
      if (!error.empty()) {
        read_errors = true;
        out["error"] = error;
        std::fprintf(stderr, "rampart scan: %s: %s\n", flags_.jsonl.c_str(), error.c_str());
      }
      if (flags_.json || !error.empty()) {
        std::cout << boost::json::serialize(out) << "\n";
      } else if (out.contains("verdict") && out["verdict"].as_string() != "allow") {
        std::cout << "line " << lineno << ": " << out["verdict"].as_string().c_str();
        if (!out["reason"].as_string().empty()) {
          std::cout << " (" << out["reason"].as_string().c_str() << ")";
        }
        std::cout << ", " << out["findings"].as_array().size() << " finding(s)\n";
      }
      auto now = std::chrono::steady_clock::now();
      if (show_progress && now - last_report > std::chrono::seconds(1)) {
        last_report = now;
        double secs = std::chrono::duration<double>(now - start).count();
        double mb = double((*reader)->bytes_read()) / 1e6;
        uint64_t total = (*reader)->total_bytes();
        if (total > 0) {
          std::fprintf(stderr, "\rscanned %lu records, %.1f MB (%.0f%%), %.1f MB/s",
                       (unsigned long)records_, mb,
                       100.0 * double((*reader)->bytes_read()) / double(total), mb / secs);
        } else {
          std::fprintf(stderr, "\rscanned %lu records, %.1f MB, %.1f MB/s", (unsigned long)records_,
                       mb, mb / secs);
        }
      }
    }
    std::cout.flush();
    if (!flags_.quiet) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double mb = double((*reader)->bytes_read()) / 1e6;
      std::fprintf(stderr,
                   "%srampart scan: %lu records: %lu allow, %lu redact, %lu review, %lu block; "
                   "%.2f MB in %.2f s (%.1f MB/s)%s\n",
                   show_progress ? "\n" : "", (unsigned long)records_, (unsigned long)counts_[0],
                   (unsigned long)counts_[1], (unsigned long)counts_[2], (unsigned long)counts_[3],
                   mb, secs, secs > 0 ? mb / secs : 0.0,
                   read_errors ? "; some records could not be read (exit 2)" : "");
    }
    return Finish(!read_errors);
  }

  const ScanFlags& flags_;
  const detectors::Scanner& scanner_;
  Action fail_on_;
  std::unique_ptr<detectors::Scanner::Context> ctx_;
  uint64_t records_ = 0;
  uint64_t counts_[4] = {0, 0, 0, 0};
  bool failed_ = false;
};

int RunScan(const ScanFlags& flags) {
  int inputs = !flags.text.empty() + !flags.file.empty() + !flags.jsonl.empty();
  if (inputs > 1) {
    std::fprintf(stderr, "rampart scan: give one of TEXT, --file or --jsonl\n");
    return kExitError;
  }
  detectors::ScannerOptions opts;
  auto op = detectors::ParseOperatingPoint(flags.operating_point);
  if (!op) {
    std::fprintf(stderr,
                 "rampart scan: --operating-point must be strict, balanced or permissive\n");
    return kExitError;
  }
  opts.operating_point = *op;
  if (!flags.no_model) {
    auto model = LoadInjectionModel(flags.model);
    if (!model.ok()) return ReportError("scan", model.status());
    opts.model = *model;
  }
  auto scanner = detectors::Scanner::FromFiles(ResolveRulesDir(flags.rules), flags.policy, opts);
  if (!scanner.ok()) return ReportError("scan", scanner.status());
  Action fail_on = (*scanner)->policy().fail_on;
  if (!flags.fail_on.empty()) {
    auto a = ParseAction(flags.fail_on);
    if (!a || *a == Action::kAllow) {
      std::fprintf(stderr, "rampart scan: --fail-on must be redact, review or block\n");
      return kExitError;
    }
    fail_on = *a;
  }
  Runner runner(flags, **scanner, fail_on);
  return runner.Run();
}

}  // namespace

void RegisterScan(CLI::App& app) {
  auto flags = std::make_shared<ScanFlags>();
  CLI::App* sub =
      app.add_subcommand("scan", "Scan text for prompt injection, jailbreaks, PII and secrets");
  sub->add_option("text", flags->text, "Text to scan (default: standard input)");
  sub->add_option("--file,-f", flags->file, "Scan a document, streamed in windows")
      ->check(CLI::ExistingFile);
  sub->add_option("--jsonl", flags->jsonl,
                  "Scan one JSON object per line ('-' for standard input)");
  sub->add_option("--field", flags->field, "JSONL field holding the text")->capture_default_str();
  sub->add_option("--policy,-p", flags->policy,
                  "Policy file (default: the built-in policy, see examples/policy.yaml)");
  sub->add_option("--rules", flags->rules, "Rule-pack directory (default: shipped rules)");
  sub->add_flag("--json", flags->json, "Print JSON (one object per input)");
  sub->add_flag("--redacted", flags->redacted, "Also print the redacted text");
  sub->add_option("--fail-on", flags->fail_on,
                  "Exit 1 when a verdict is at or above this action (redact|review|block; "
                  "default: the policy's fail_on)");
  sub->add_flag("--progress", flags->progress, "Show progress on stderr (JSONL)");
  sub->add_flag("--quiet,-q", flags->quiet, "No progress or summary on stderr");
  sub->add_option("--model", flags->model,
                  "Injection model file (default: the shipped models/injection.model)");
  sub->add_flag("--no-model", flags->no_model, "Run the rules without the learned detector");
  sub->add_option("--operating-point", flags->operating_point,
                  "Model threshold that blocks: strict, balanced or permissive")
      ->capture_default_str();
  AddCommand(sub, [flags] { return RunScan(*flags); });
}

}  // namespace rampart::cli
