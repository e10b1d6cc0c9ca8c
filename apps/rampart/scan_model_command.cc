// rampart scan-model: scans model artifacts (pickles, PyTorch zips, .npy, gzip) for code that
// runs when they are loaded. See docs/scan-model.md.
//
//   rampart scan-model PATH... [--format table|json|sarif] [--fail-on low|medium|high|critical]
//                              [--progress auto|always|never]
//
// Directories are walked recursively; formats are detected from content, never from names.
// Exit: 2 when any file (or part of one) could not be read in full, else 1 when a finding is
// at or above --fail-on (default medium), else 0.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/statusor.h"
#include "cli_common.h"
#include "commands.h"
#include "common/strings.h"
#include "rampart/finding.h"
#include "supply/model_scanner.h"

namespace rampart::cli {
namespace {

namespace fs = std::filesystem;

struct ScanModelFlags {
  std::vector<std::string> paths;
  std::string format = "table";
  std::string fail_on = "medium";
  std::string progress = "auto";
  std::vector<std::string> profiles;
  uint64_t max_file_bytes = uint64_t{64} << 30;
};

// A read-only mapping of a whole file; empty files map to an empty view.
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path,
                                                          uint64_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::NotFoundError(StrCat(path, ": ", std::strerror(errno)));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return absl::InternalError(StrCat(path, ": ", std::strerror(err)));
    }
    auto f = std::unique_ptr<MappedFile>(new MappedFile());
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size > max_bytes) {
      ::close(fd);
      return absl::ResourceExhaustedError(
          StrCat(path, ": ", size, " bytes is over --max-file-bytes (", max_bytes, ")"));
    }
    if (size > 0) {
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return absl::InternalError(StrCat(path, ": mmap: ", std::strerror(err)));
      }
      ::madvise(p, size, MADV_SEQUENTIAL);
      f->data_ = static_cast<const char*>(p);
      f->size_ = size;
    }
    ::close(fd);
    return f;
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  std::string_view view() const { return std::string_view(data_, size_); }

 private:
  MappedFile() = default;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

struct FileResult {
  std::string path;
  std::string read_error;  // non-empty when the file could not be read at all
  supply::ScanReport report;
};

// Expands directories (recursively, without following directory symlinks) into files.
void CollectFiles(const std::string& path, std::vector<FileResult>* out) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    out->push_back(FileResult{path, "no such file or directory", {}});
    return;
  }
  if (!fs::is_directory(st)) {
    out->push_back(FileResult{path, "", {}});
    return;
  }
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(path, ec), end;
  if (ec) {
    out->push_back(FileResult{path, StrCat("cannot list directory: ", ec.message()), {}});
    return;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      out->push_back(FileResult{path, StrCat("cannot list directory: ", ec.message()), {}});
      return;
    }
    std::error_code fec;
    if (it->is_regular_file(fec)) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  for (auto& f : files) out->push_back(FileResult{std::move(f), "", {}});
}

boost::json::object ToJson(const FileResult& r) {
  boost::json::object o;
  o["path"] = r.path;
  if (!r.read_error.empty()) {
    o["error"] = r.read_error;
    o["complete"] = false;
    return o;
  }
  o["format"] = std::string(supply::FormatName(r.report.format));
  o["complete"] = r.report.complete();
  boost::json::array incomplete;
  for (const auto& s : r.report.incomplete) incomplete.emplace_back(s);
  o["incomplete"] = std::move(incomplete);
  boost::json::array findings;
  for (const auto& f : r.report.findings) {
    boost::json::object j;
    j["id"] = f.id;
    j["severity"] = std::string(SeverityName(f.severity));
    j["location"] = f.location;
    j["offset"] = f.offset;
    j["subject"] = f.subject;
    j["message"] = f.message;
    j["count"] = f.count;
    findings.push_back(std::move(j));
  }
  o["findings"] = std::move(findings);
  o["pickles"] = r.report.pickles;
  o["opcodes"] = r.report.opcodes;
  o["imports"] = r.report.imports;
  o["calls"] = r.report.calls;
  return o;
}

void PrintTable(const FileResult& r) {
  if (!r.read_error.empty()) {
    std::printf("%s: NOT SCANNED: %s\n", ForTerminal(r.path).c_str(),
                ForTerminal(r.read_error).c_str());
    return;
  }
  const auto& rep = r.report;
  std::printf("%s: %s, %zu finding(s)%s\n", ForTerminal(r.path).c_str(),
              std::string(supply::FormatName(rep.format)).c_str(), rep.findings.size(),
              rep.complete() ? "" : ", INCOMPLETE");
  if (!rep.findings.empty()) {
    std::printf("  %-9s %-24s %-28s %-10s %-36s %s\n", "SEVERITY", "ID", "LOCATION", "OFFSET",
                "SUBJECT", "COUNT");
    std::vector<const supply::ModelFinding*> sorted;
    for (const auto& f : rep.findings) sorted.push_back(&f);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](auto* a, auto* b) { return a->severity > b->severity; });
    for (const auto* f : sorted) {
      std::printf("  %-9s %-24s %-28s %-10lu %-36s %lu\n",
                  std::string(SeverityName(f->severity)).c_str(), f->id.c_str(),
                  f->location.empty() ? "-" : ForTerminal(f->location).c_str(),
                  static_cast<unsigned long>(f->offset),
                  f->subject.empty() ? "-" : ForTerminal(f->subject).c_str(),
                  static_cast<unsigned long>(f->count));
    }
  }
  for (const auto& s : rep.incomplete) {
    std::printf("  not fully read: %s\n", ForTerminal(s).c_str());
  }
}

// One line per finding id for SARIF rule descriptions (docs/scan-model.md has the details).
std::string_view RuleDescription(std::string_view id) {
  struct Entry {
    std::string_view prefix, text;
  };
  static constexpr Entry kRules[] = {
      {"pickle.import.denied", "A pickle imports a denied global (code runs on load)"},
      {"pickle.import.unknown", "A pickle imports a global that is not on the allowlist"},
      {"pickle.call", "A pickle calls a denied or computed callable"},
      {"pickle.unresolved_global", "A pickle import whose name cannot be resolved statically"},
      {"pickle.ext_code", "A pickle import through the copyreg extension registry"},
      {"pickle.anomaly", "CPython's C and Python unpicklers disagree on this pickle"},
      {"pickle.trailing_data", "Bytes after the last pickle"},
      {"pickle.", "A pickle could not be read in full (truncated, malformed, or over a limit)"},
      {"zip.", "ZIP structure problem (header inconsistency, bomb, unsupported feature)"},
      {"gzip.", "gzip stream over the limits or corrupt"},
      {"npy.", "Unreadable NumPy header"},
      {"safetensors.", "safetensors layout problem (parser differential or smuggled bytes)"},
      {"gguf.chat_template", "GGUF chat template that looks like a Jinja sandbox escape"},
      {"gguf.", "GGUF structure problem (lengths, duplicates, tensor layout)"},
      {"file.polyglot", "A data-only format that also reads as a pickle"},
      {"container.depth", "Containers nested deeper than the limit"},
      {"file.", "File not recognized or empty"},
  };
  for (const Entry& e : kRules) {
    if (id.starts_with(e.prefix)) return e.text;
  }
  return "Model artifact finding";
}

// SARIF 2.1.0 levels and the GitHub code-scanning "security-severity" score per severity.
std::string_view SarifLevel(Severity s) {
  switch (s) {
    case Severity::kCritical:
    case Severity::kHigh:
      return "error";
    case Severity::kMedium:
      return "warning";
    default:
      return "note";
  }
}

std::string_view SecurityScore(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "9.5";
    case Severity::kHigh:
      return "8.0";
    case Severity::kMedium:
      return "5.5";
    default:
      return "3.0";
  }
}

// A path as a SARIF artifact URI: relative paths stay relative, absolute ones become file://
// URIs; everything but unreserved characters and '/' is percent-encoded.
std::string PathUri(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = path.starts_with("/") ? "file://" : "";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

boost::json::object ToSarif(const std::vector<FileResult>& results, bool complete) {
  boost::json::array rules, sarif_results, notifications;
  std::map<std::string, size_t> rule_index;
  for (const auto& r : results) {
    if (!r.read_error.empty()) {
      boost::json::object n;
      n["level"] = "error";
      n["message"] = {{"text", StrCat(r.path, ": not scanned: ", r.read_error)}};
      notifications.push_back(std::move(n));
      continue;
    }
    for (const auto& s : r.report.incomplete) {
      boost::json::object n;
      n["level"] = "error";
      n["message"] = {{"text", StrCat(r.path, ": not fully read: ", s)}};
      notifications.push_back(std::move(n));
    }
    for (const auto& f : r.report.findings) {
      auto [it, fresh] = rule_index.emplace(f.id, rules.size());
      if (fresh) {
        boost::json::object rule;
        rule["id"] = f.id;
        rule["name"] = f.id;
        rule["shortDescription"] = {{"text", RuleDescription(f.id)}};
        rule["properties"] = {{"tags", boost::json::array{"security", "supply-chain"}}};
        rules.push_back(std::move(rule));
      }
      // The highest severity seen for a rule is its score.
      auto& props = rules[it->second].as_object()["properties"].as_object();
      const std::string_view score = SecurityScore(f.severity);
      if (!props.contains("security-severity") ||
          std::stod(std::string(props["security-severity"].as_string())) <
              std::stod(std::string(score))) {
        props["security-severity"] = score;
      }
      boost::json::object physical;
      physical["artifactLocation"] = {{"uri", PathUri(r.path)}};
      if (f.location.empty()) physical["region"] = {{"byteOffset", f.offset}};
      boost::json::object location;
      location["physicalLocation"] = std::move(physical);
      if (!f.location.empty()) {
        location["logicalLocations"] = boost::json::array{
            boost::json::object{{"fullyQualifiedName", f.location}, {"kind", "member"}}};
      }
      boost::json::object result;
      result["ruleId"] = f.id;
      result["ruleIndex"] = it->second;
      result["level"] = SarifLevel(f.severity);
      result["message"] = {
          {"text", f.subject.empty() ? f.message : StrCat(f.subject, ": ", f.message)}};
      result["locations"] = boost::json::array{std::move(location)};
      result["properties"] = {{"severity", SeverityName(f.severity)},
                              {"subject", f.subject},
                              {"offset", f.offset},
                              {"count", f.count}};
      sarif_results.push_back(std::move(result));
    }
  }
  boost::json::object driver;
  driver["name"] = "rampart scan-model";
  driver["version"] = RAMPART_VERSION;
  driver["rules"] = std::move(rules);
  boost::json::object invocation;
  invocation["executionSuccessful"] = complete;
  invocation["toolExecutionNotifications"] = std::move(notifications);
  boost::json::object run;
  run["tool"] = {{"driver", std::move(driver)}};
  run["invocations"] = boost::json::array{std::move(invocation)};
  run["results"] = std::move(sarif_results);
  boost::json::object doc;
  doc["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  doc["version"] = "2.1.0";
  doc["runs"] = boost::json::array{std::move(run)};
  return doc;
}

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// Progress on stderr for large files: a line rewritten in place on a terminal, a line every
// few seconds otherwise (--progress always into a log).
class ProgressLine {
 public:
  ProgressLine(bool enabled, bool tty) : enabled_(enabled), tty_(tty) {}

  void Start(const std::string& path, uint64_t size, size_t index, size_t count) {
    active_ = enabled_ && size >= kMinBytes;
    if (!active_) return;
    path_ = ForTerminal(path);
    size_ = size;
    prefix_ = count > 1 ? StrCat("[", index + 1, "/", count, "] ") : "";
    last_ = std::chrono::steady_clock::now();
    Print(0);
  }
  void Update(uint64_t offset) {
    if (!active_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5))) return;
    last_ = now;
    Print(offset);
  }
  void Finish() {
    if (!active_) return;
    if (tty_) std::fprintf(stderr, "\r\033[K");
    active_ = false;
  }

 private:
  static constexpr uint64_t kMinBytes = 64u << 20;

  void Print(uint64_t offset) {
    offset = std::min(offset, size_);
    std::fprintf(stderr, "%srampart scan-model: %s%s: %3d%% of %s%s", tty_ ? "\r\033[K" : "",
                 prefix_.c_str(), path_.c_str(), static_cast<int>(offset * 100 / size_),
                 HumanBytes(size_).c_str(), tty_ ? "" : "\n");
    std::fflush(stderr);
  }

  bool enabled_, tty_;
  bool active_ = false;
  std::string path_, prefix_;
  uint64_t size_ = 0;
  std::chrono::steady_clock::time_point last_;
};

int RunScanModel(const ScanModelFlags& flags) {
  auto fail_on = ParseSeverity(flags.fail_on);
  if (!fail_on || *fail_on == Severity::kInfo) {
    std::fprintf(stderr, "rampart scan-model: --fail-on must be low, medium, high or critical\n");
    return kExitError;
  }
  if (flags.format != "table" && flags.format != "json" && flags.format != "sarif") {
    std::fprintf(stderr, "rampart scan-model: --format must be table, json or sarif\n");
    return kExitError;
  }
  if (flags.progress != "auto" && flags.progress != "always" && flags.progress != "never") {
    std::fprintf(stderr, "rampart scan-model: --progress must be auto, always or never\n");
    return kExitError;
  }
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  ProgressLine progress(flags.progress == "always" || (flags.progress == "auto" && tty), tty);
  std::vector<FileResult> results;
  for (const auto& p : flags.paths) CollectFiles(p, &results);
  supply::ScanOptions options;
  for (const std::string& name : flags.profiles) {
    if (!options.policy.AddProfile(name)) {
      std::fprintf(
          stderr, "rampart scan-model: --allow-profile: unknown profile '%s' (known: %s)\n",
          ForTerminal(name).c_str(), StrJoin(supply::ImportPolicy::ProfileNames(), ", ").c_str());
      return kExitError;
    }
  }
  const supply::ModelScanner scanner(std::move(options));
  bool incomplete = false, failed = false;
  size_t with_findings = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    FileResult& r = results[i];
    if (r.read_error.empty()) {
      auto file = MappedFile::Open(r.path, flags.max_file_bytes);
      if (!file.ok()) {
        r.read_error = std::string(file.status().message());
      } else {
        progress.Start(r.path, (*file)->view().size(), i, results.size());
        r.report = scanner.Scan((*file)->view(), [&](uint64_t at) { progress.Update(at); });
        progress.Finish();
      }
    }
    if (!r.read_error.empty() || !r.report.complete()) incomplete = true;
    if (!r.report.findings.empty()) ++with_findings;
    if (r.read_error.empty() && !r.report.findings.empty() && r.report.MaxSeverity() >= *fail_on) {
      failed = true;
    }
    if (!r.read_error.empty()) {
      std::fprintf(stderr, "rampart scan-model: %s: %s\n", ForTerminal(r.path).c_str(),
                   ForTerminal(r.read_error).c_str());
    }
    if (flags.format == "table") PrintTable(r);
  }
  const int code = incomplete ? kExitError : failed ? kExitFindings : kExitClean;
  if (flags.format == "json") {
    boost::json::object doc;
    boost::json::array files;
    for (const auto& r : results) files.push_back(ToJson(r));
    doc["files"] = std::move(files);
    doc["fail_on"] = flags.fail_on;
    doc["exit_code"] = code;
    std::cout << boost::json::serialize(doc) << "\n";
  } else if (flags.format == "sarif") {
    std::cout << boost::json::serialize(ToSarif(results, !incomplete)) << "\n";
  } else {
    std::printf("scanned %zu file(s): %zu with findings%s\n", results.size(), with_findings,
                incomplete ? "; some could not be read in full (exit 2)" : "");
  }
  return code;
}

}  // namespace

void RegisterScanModel(CLI::App& app) {
  auto flags = std::make_shared<ScanModelFlags>();
  CLI::App* sub = app.add_subcommand("scan-model",
                                     "Scan model files (pickle, PyTorch, NumPy, zip, gzip, "
                                     "safetensors, GGUF) for code on load and malformed structure");
  sub->add_option("paths", flags->paths, "Files or directories (walked recursively)")->required();
  sub->add_option("--format", flags->format, "table, json, or sarif (SARIF 2.1.0)")
      ->capture_default_str();
  sub->add_option("--progress", flags->progress,
                  "Progress on stderr for files over 64 MiB: auto (when stderr is a terminal), "
                  "always, never")
      ->capture_default_str();
  sub->add_option("--fail-on", flags->fail_on,
                  "Exit 1 on a finding at or above this severity (low|medium|high|critical)")
      ->capture_default_str();
  sub->add_option("--allow-profile", flags->profiles,
                  "Also allow the imports of an opt-in profile: joblib, sklearn, xgboost "
                  "(repeat or separate with commas)")
      ->delimiter(',');
  sub->add_option("--max-file-bytes", flags->max_file_bytes, "Largest file scanned")
      ->capture_default_str();
  AddCommand(sub, [flags] { return RunScanModel(*flags); });
}

}  // namespace rampart::cli
