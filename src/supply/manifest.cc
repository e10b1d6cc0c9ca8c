#include "supply/manifest.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "common/strings.h"
#include "rampart/finding.h"
#include "supply/model_scanner.h"
#include "supply/sniff.h"

namespace rampart::supply {
namespace {

namespace json = boost::json;

// Scans one file through a read-only mapping: format and verdict.
std::pair<std::string, std::string> ScanFile(const ModelScanner& scanner, const std::string& path,
                                             uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {"unknown", "incomplete"};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return {"unknown", "incomplete"};
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    return {"unknown", "unscanned"};
  }
  const char* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return {"unknown", "incomplete"};
    }
    data = static_cast<const char*>(p);
  }
  ::close(fd);
  const ScanReport report = scanner.Scan(std::string_view(data, size));
  if (data != nullptr) ::munmap(const_cast<char*>(data), size);
  std::string verdict = !report.complete()        ? "incomplete"
                        : report.findings.empty() ? "clean"
                                                  : std::string(SeverityName(report.MaxSeverity()));
  return {std::string(FormatName(report.format)), verdict};
}

}  // namespace

absl::StatusOr<Manifest> CreateManifest(const std::string& root, const ManifestOptions& options) {
  absl::StatusOr<std::vector<std::string>> files = ListModelFiles(root, options.list);
  if (!files.ok()) return files.status();
  absl::StatusOr<std::vector<FileDigest>> digests = HashFiles(root, *files, options.threads);
  if (!digests.ok()) return digests.status();
  Manifest m;
  m.files.resize(digests->size());
  for (size_t i = 0; i < digests->size(); ++i) {
    m.files[i].path = (*digests)[i].path;
    m.files[i].size = (*digests)[i].size;
    m.files[i].sha256 = ToHex((*digests)[i].sha256);
    m.files[i].format = "unscanned";
    m.files[i].verdict = "unscanned";
  }
  if (options.scan && !m.files.empty()) {
    const ModelScanner scanner;
    unsigned threads =
        options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<unsigned>(std::min<size_t>(threads, m.files.size()));
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next.fetch_add(1); i < m.files.size(); i = next.fetch_add(1)) {
        auto [format, verdict] =
            ScanFile(scanner, StrCat(root, "/", m.files[i].path), options.max_scan_bytes);
        m.files[i].format = std::move(format);
        m.files[i].verdict = std::move(verdict);
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  return m;
}

std::string ManifestToJson(const Manifest& m) {
  json::array files;
  for (const ManifestEntry& e : m.files) {
    files.push_back(json::object{{"path", e.path},
                                 {"size", e.size},
                                 {"sha256", e.sha256},
                                 {"format", e.format},
                                 {"verdict", e.verdict}});
  }
  json::object doc{
      {"kind", kManifestKind}, {"version", 1}, {"hash", "sha256"}, {"files", std::move(files)}};
  return StrCat(json::serialize(doc), "\n");
}

absl::StatusOr<Manifest> ManifestFromJson(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 16;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, opt);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("manifest: not a JSON object");
  const json::object& o = v.get_object();
  const json::value* kind = o.if_contains("kind");
  if (kind == nullptr || !kind->is_string() || kind->get_string() != kManifestKind) {
    return absl::InvalidArgumentError(StrCat("manifest.kind: must be ", kManifestKind));
  }
  const json::value* version = o.if_contains("version");
  if (version == nullptr || !version->is_int64() || version->get_int64() != 1) {
    return absl::InvalidArgumentError("manifest.version: must be 1");
  }
  const json::value* files = o.if_contains("files");
  if (files == nullptr || !files->is_array()) {
    return absl::InvalidArgumentError("manifest.files: must be an array");
  }
  Manifest m;
  std::set<std::string> seen;
  for (size_t i = 0; i < files->get_array().size(); ++i) {
    const json::object* f = files->get_array()[i].if_object();
    auto str = [&](const char* key) -> const json::string* {
      const json::value* x = f ? f->if_contains(key) : nullptr;
      return x && x->is_string() ? &x->get_string() : nullptr;
    };
    const json::value* size = f ? f->if_contains("size") : nullptr;
    const json::string* path = str("path");
    const json::string* sha = str("sha256");
    if (path == nullptr || sha == nullptr || sha->size() != 64 || size == nullptr ||
        !(size->is_uint64() || (size->is_int64() && size->get_int64() >= 0))) {
      return absl::InvalidArgumentError(
          StrCat("manifest.files[", i, "]: needs path, size and a 64-digit sha256"));
    }
    ManifestEntry e;
    e.path = std::string(path->data(), path->size());
    if (!seen.insert(e.path).second) {
      return absl::InvalidArgumentError(StrCat("manifest.files[", i, "].path: duplicate"));
    }
    e.size = size->is_uint64() ? size->get_uint64() : static_cast<uint64_t>(size->get_int64());
    e.sha256 = std::string(sha->data(), sha->size());
    if (const json::string* s = str("format")) e.format = std::string(s->data(), s->size());
    if (const json::string* s = str("verdict")) e.verdict = std::string(s->data(), s->size());
    m.files.push_back(std::move(e));
  }
  return m;
}

absl::StatusOr<ManifestDiff> VerifyManifest(const std::string& root, const Manifest& manifest,
                                            const ListOptions& list, unsigned threads) {
  absl::StatusOr<std::vector<std::string>> files = ListModelFiles(root, list);
  if (!files.ok()) return files.status();
  std::map<std::string, const ManifestEntry*> expected;
  for (const ManifestEntry& e : manifest.files) expected.emplace(e.path, &e);
  ManifestDiff diff;
  std::vector<std::string> to_hash;
  for (const std::string& f : *files) {
    if (expected.count(f)) {
      to_hash.push_back(f);
    } else {
      diff.extra.push_back(f);
    }
  }
  const std::set<std::string> present(files->begin(), files->end());
  for (const ManifestEntry& e : manifest.files) {
    if (!present.count(e.path)) diff.missing.push_back(e.path);
  }
  absl::StatusOr<std::vector<FileDigest>> digests = HashFiles(root, to_hash, threads);
  if (!digests.ok()) return digests.status();
  for (const FileDigest& d : *digests) {
    const ManifestEntry* e = expected[d.path];
    if (e->size != d.size || e->sha256 != ToHex(d.sha256)) diff.changed.push_back(d.path);
  }
  return diff;
}

}  // namespace rampart::supply
