// rampart scan-model: scans model artifacts (pickles, PyTorch zips, .npy, gzip) for code that
// runs when they are loaded. See docs/scan-model.md.
//
//   rampart scan-model PATH... [--format table|json] [--fail-on low|medium|high|critical]
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
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
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

int RunScanModel(const ScanModelFlags& flags) {
  auto fail_on = ParseSeverity(flags.fail_on);
  if (!fail_on || *fail_on == Severity::kInfo) {
    std::fprintf(stderr, "rampart scan-model: --fail-on must be low, medium, high or critical\n");
    return kExitError;
  }
  if (flags.format != "table" && flags.format != "json") {
    std::fprintf(stderr, "rampart scan-model: --format must be table or json\n");
    return kExitError;
  }
  std::vector<FileResult> results;
  for (const auto& p : flags.paths) CollectFiles(p, &results);
  const supply::ModelScanner scanner;
  bool incomplete = false, failed = false;
  size_t with_findings = 0;
  for (auto& r : results) {
    if (r.read_error.empty()) {
      auto file = MappedFile::Open(r.path, flags.max_file_bytes);
      if (!file.ok()) {
        r.read_error = std::string(file.status().message());
      } else {
        r.report = scanner.Scan((*file)->view());
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
  } else {
    std::printf("scanned %zu file(s): %zu with findings%s\n", results.size(), with_findings,
                incomplete ? "; some could not be read in full (exit 2)" : "");
  }
  return code;
}

}  // namespace

void RegisterScanModel(CLI::App& app) {
  auto flags = std::make_shared<ScanModelFlags>();
  CLI::App* sub = app.add_subcommand(
      "scan-model", "Scan model files (pickle, PyTorch, NumPy, zip, gzip) for code on load");
  sub->add_option("paths", flags->paths, "Files or directories (walked recursively)")->required();
  sub->add_option("--format", flags->format, "table or json")->capture_default_str();
  sub->add_option("--fail-on", flags->fail_on,
                  "Exit 1 on a finding at or above this severity (low|medium|high|critical)")
      ->capture_default_str();
  sub->add_option("--max-file-bytes", flags->max_file_bytes, "Largest file scanned")
      ->capture_default_str();
  AddCommand(sub, [flags] { return RunScanModel(*flags); });
}

}  // namespace rampart::cli
