#include "supply/model_scanner.h"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "common/strings.h"
#include "supply/gguf.h"
#include "supply/keras.h"
#include "supply/onnx.h"
#include "supply/safetensors.h"
#include "supply/tensorflow.h"

namespace rampart::supply {

Severity ScanReport::MaxSeverity() const {
  Severity s = Severity::kInfo;
  for (const auto& f : findings) s = std::max(s, f.severity);
  return s;
}

namespace {

std::string_view OpcodeName(uint8_t op) {
  switch (op) {
    case 'c':
      return "GLOBAL";
    case 'i':
      return "INST";
    case 'o':
      return "OBJ";
    case 0x93:
      return "STACK_GLOBAL";
    case 'R':
      return "REDUCE";
    case 0x81:
      return "NEWOBJ";
    case 0x92:
      return "NEWOBJ_EX";
    case 'b':
      return "BUILD";
    case 0x82:
      return "EXT1";
    case 0x83:
      return "EXT2";
    case 0x84:
      return "EXT4";
    case 'a':
      return "APPEND";
    case 'e':
      return "APPENDS";
    case 's':
      return "SETITEM";
    case 'u':
      return "SETITEMS";
    case 0x90:
      return "ADDITEMS";
    case 0x95:
      return "FRAME";
    default:
      return "opcode";
  }
}

std::string Join(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  return StrCat(parent, "!", child);
}

Severity ZipIssueSeverity(std::string_view id) {
  if (id == "zip.unsupported") return Severity::kMedium;
  return Severity::kHigh;
}

}  // namespace

// One Scan(): the report under construction and the recursion.
class ScanSession {
 public:
  ScanSession(const ScanOptions& options, ScanReport* report,
              const ModelScanner::Progress& progress)
      : options_(options), report_(report), progress_(progress) {}

  // Progress only means something in the top-level artifact's coordinates.
  void Progress(const std::string& location, uint64_t offset) {
    if (progress_ && location.empty()) progress_(offset);
  }

  void ScanAny(std::string_view data, const std::string& location, uint32_t depth, bool strict,
               Format* format_out);

  void Add(ModelFinding f) { report_->findings.push_back(std::move(f)); }
  void Incomplete(std::string what) { report_->incomplete.push_back(std::move(what)); }

  void ScanPickle(std::string_view data, const std::string& location, uint32_t depth);
  void ScanZip(std::string_view data, const std::string& location, uint32_t depth);
  void ScanGzip(std::string_view data, const std::string& location, uint32_t depth,
                bool gzip = true);
  void ScanArchive(std::string_view data, Format f, const std::string& location, uint32_t depth);
  void ScanNpy(std::string_view data, const std::string& location, uint32_t depth);
  void AddChecked(CheckResult result, const std::string& location);
  void ScanPolyglot(std::string_view data, Format f, const std::string& location, uint32_t depth);

  const ScanOptions& options_;
  ScanReport* report_;
  const ModelScanner::Progress& progress_;
};

namespace {

// Turns VM events into findings for one pickle, merging repeats.
class PolicyVisitor : public PickleVisitor {
 public:
  PolicyVisitor(ScanSession& session, const std::string& location, uint32_t depth)
      : s_(session), location_(location), depth_(depth) {}

  void OnProgress(uint64_t offset) override { s_.Progress(location_, offset); }

  void OnEvent(const PickleEvent& e) override {
    const ImportPolicy& policy = s_.options_.policy;
    switch (e.kind) {
      case PickleEventKind::kImport: {
        ++s_.report_->imports;
        ImportClass c = policy.Classify(e.module, e.name);
        if (c.verdict == ImportVerdict::kAllowed) return;
        if (c.verdict == ImportVerdict::kDenied) {
          Emit("pickle.import.denied", c.severity, e.offset, c.canonical,
               StrCat(c.reason, " (", OpcodeName(e.opcode), ")"));
        } else {
          Emit("pickle.import.unknown", Severity::kMedium, e.offset, c.canonical,
               StrCat("import not on the allowlist (", OpcodeName(e.opcode), ")"));
        }
        return;
      }
      case PickleEventKind::kUnresolved:
        Emit("pickle.unresolved_global", Severity::kCritical, e.offset,
             StrCat(e.module.empty() ? "?" : e.module, ".", e.name.empty() ? "?" : e.name),
             StrCat("STACK_GLOBAL import that cannot be resolved statically: ", e.detail));
        return;
      case PickleEventKind::kExtCode:
        Emit("pickle.ext_code", Severity::kHigh, e.offset, StrCat("ext:", e.number),
             StrCat("import through the copyreg extension registry (", OpcodeName(e.opcode),
                    "); the target depends on the loading process"));
        return;
      case PickleEventKind::kCall:
        OnCall(e);
        return;
      case PickleEventKind::kAnomaly:
        Emit("pickle.anomaly", Severity::kMedium, e.offset, std::string(OpcodeName(e.opcode)),
             StrCat(e.detail, ": CPython's C and Python unpicklers disagree on this input"));
        return;
      case PickleEventKind::kTrailing:
        Emit("pickle.trailing_data", Severity::kLow, e.offset, "",
             StrCat(e.number,
                    " bytes after the last pickle do not look like a pickle "
                    "(legacy PyTorch storage data, or padding)"));
        return;
    }
  }

 private:
  void OnCall(const PickleEvent& e) {
    ++s_.report_->calls;
    if (e.module.empty() && e.name.empty()) {
      Emit("pickle.call", Severity::kHigh, e.offset, "<computed>",
           StrCat(OpcodeName(e.opcode), " calls a value computed by the pickle (not a plain ",
                  "import): its target cannot be known statically"));
      return;
    }
    ImportClass c = s_.options_.policy.Classify(e.module, e.name);
    if (c.verdict == ImportVerdict::kAllowed) return;
    if (c.verdict == ImportVerdict::kDenied) {
      Emit("pickle.call", c.severity, e.offset, c.canonical,
           StrCat(OpcodeName(e.opcode), " calls a denied global: ", c.reason));
    }
    if (c.nested_deserializer && !e.arg_bytes.empty()) {
      std::string where = StrCat(location_.empty() ? "" : location_, location_.empty() ? "" : "!",
                                 "bytes@", e.arg_bytes_offset);
      if (depth_ + 1 > s_.options_.max_depth) {
        Emit("pickle.limit", Severity::kHigh, e.arg_bytes_offset, c.canonical,
             "nested payload deeper than max_depth; not scanned");
        s_.Incomplete(StrCat(where, ": nested payload deeper than max_depth"));
        return;
      }
      Format f = Format::kUnknown;
      s_.ScanAny(e.arg_bytes, where, depth_ + 1, /*strict=*/false, &f);
    }
  }

  void Emit(std::string_view id, Severity sev, uint64_t offset, std::string subject,
            std::string message) {
    std::string key = StrCat(id, "\x1f", subject);
    auto it = seen_.find(key);
    if (it != seen_.end()) {
      ModelFinding& f = s_.report_->findings[it->second];
      ++f.count;
      f.severity = std::max(f.severity, sev);
      return;
    }
    if (seen_.size() >= s_.options_.max_findings) {
      if (overflow_ == SIZE_MAX) {
        overflow_ = s_.report_->findings.size();
        s_.Add(ModelFinding{"pickle.limit", Severity::kHigh, location_, offset, "findings",
                            "more distinct findings than max_findings; the rest are counted here",
                            0});
      }
      ModelFinding& f = s_.report_->findings[overflow_];
      ++f.count;
      f.severity = std::max(f.severity, sev);
      return;
    }
    seen_.emplace(std::move(key), s_.report_->findings.size());
    s_.Add(ModelFinding{std::string(id), sev, location_, offset, std::move(subject),
                        std::move(message), 1});
  }

  ScanSession& s_;
  const std::string& location_;
  uint32_t depth_;
  std::unordered_map<std::string, size_t> seen_;
  size_t overflow_ = SIZE_MAX;
};

}  // namespace

void ScanSession::ScanAny(std::string_view data, const std::string& location, uint32_t depth,
                          bool strict, Format* format_out) {
  Format f = Sniff(data, strict);
  *format_out = f;
  switch (f) {
    case Format::kPickle:
      ScanPickle(data, location, depth);
      return;
    case Format::kZip:
    case Format::kGzip:
    case Format::kNpy:
    case Format::kZlib:
    case Format::kTar:
    case Format::kSevenZip:
    case Format::kXz:
    case Format::kBzip2:
    case Format::kZstd:
    case Format::kLz4:
      if (depth + 1 > options_.max_depth) {
        Add(ModelFinding{"container.depth", Severity::kHigh, location, 0,
                         std::string(FormatName(f)),
                         "containers nested deeper than max_depth; not opened", 1});
        Incomplete(StrCat(location.empty() ? "file" : location, ": ", FormatName(f),
                          " nested deeper than max_depth"));
        return;
      }
      if (f == Format::kZip) ScanZip(data, location, depth + 1);
      if (f == Format::kGzip) ScanGzip(data, location, depth + 1);
      if (f == Format::kNpy) ScanNpy(data, location, depth + 1);
      if (f == Format::kZlib) ScanGzip(data, location, depth + 1, /*gzip=*/false);
      if (f == Format::kTar || f == Format::kSevenZip || f == Format::kXz || f == Format::kBzip2 ||
          f == Format::kZstd || f == Format::kLz4) {
        ScanArchive(data, f, location, depth + 1);
      }
      return;
    case Format::kSafetensors:
      AddChecked(CheckSafetensors(data, options_.safetensors), location);
      ScanPolyglot(data, f, location, depth);
      return;
    case Format::kGguf:
      AddChecked(CheckGguf(data, options_.gguf), location);
      ScanPolyglot(data, f, location, depth);
      return;
    case Format::kOnnx:
      AddChecked(CheckOnnx(data), location);
      return;
    case Format::kSavedModel:
      AddChecked(CheckSavedModel(data), location);
      return;
    case Format::kHdf5: {
      size_t unreadable = 0;
      std::vector<std::string_view> configs = FindKerasConfigs(data, 16, &unreadable);
      for (std::string_view config : configs) {
        CheckResult r = CheckKerasConfig(config);
        for (ModelFinding& finding : r.findings) finding.offset = config.data() - data.data();
        AddChecked(std::move(r), location);
      }
      // HDF5 is not walked: a config we could not read whole (dense attribute storage can
      // split a large one) may hold what the checks look for.
      if (unreadable > 0 || (configs.empty() && data.find("model_config") != data.npos)) {
        Incomplete(StrCat(Join(location, "hdf5"),
                          ": a Keras model config is present but could not be read whole (",
                          unreadable, " unparsable)"));
      }
      return;
    }
    case Format::kEmpty:
    case Format::kUnknown:
      return;
  }
}

void ScanSession::AddChecked(CheckResult result, const std::string& location) {
  for (ModelFinding& f : result.findings) {
    f.location = location;
    Add(std::move(f));
  }
  for (std::string& s : result.incomplete) {
    Incomplete(location.empty() ? std::move(s) : StrCat(location, ": ", s));
  }
}

// A file that is valid as a data-only format AND reads as a pickle is a polyglot: the loader
// that picks it up decides whether code runs. Scan the pickle reading too.
void ScanSession::ScanPolyglot(std::string_view data, Format f, const std::string& location,
                               uint32_t depth) {
  if (!PickleVm::LooksLikePickle(data, /*strict=*/true)) return;
  Add(ModelFinding{"file.polyglot", Severity::kHigh, location, 0, std::string(FormatName(f)),
                   StrCat("the file is a ", FormatName(f),
                          " file and also reads as a pickle; the pickle reading was scanned"),
                   1});
  ScanPickle(data, Join(location, "as-pickle"), depth);
}

void ScanSession::ScanPickle(std::string_view data, const std::string& location, uint32_t depth) {
  PolicyVisitor visitor(*this, location, depth);
  PickleVm vm(options_.pickle);
  PickleRunResult r = vm.Run(data, visitor);
  report_->opcodes += r.opcodes;
  report_->pickles += r.pickles;
  if (r.outcome == PickleOutcome::kComplete) return;
  std::string id = StrCat("pickle.", PickleOutcomeName(r.outcome));
  std::string what = StrCat(PickleOutcomeName(r.outcome), " at byte ", r.error_offset, ": ",
                            r.error, "; everything before it was scanned, nothing after");
  Add(ModelFinding{id, Severity::kHigh, location, r.error_offset, "", what, 1});
  Incomplete(StrCat(location.empty() ? "pickle" : location, ": ", what));
}

void ScanSession::ScanZip(std::string_view data, const std::string& location, uint32_t depth) {
  ZipReader zip = ZipReader::Open(data, options_.zip);
  auto add_issue = [&](const ZipIssue& i) {
    Severity sev = ZipIssueSeverity(i.id);
    Add(ModelFinding{i.id, sev, location, i.offset, i.entry, i.message, 1});
    if (i.id != "zip.inconsistent") {
      Incomplete(StrCat(Join(location, i.entry.empty() ? "zip" : i.entry), ": ", i.message));
    }
  };
  for (const ZipIssue& i : zip.issues()) add_issue(i);
  if (!zip.ok()) return;
  std::string storage;
  // Keras 3 `.keras` files: a zip with config.json beside metadata.json / model.weights.h5.
  std::string keras_config;
  bool keras_marker = false;
  for (const ZipEntry& e : zip.entries()) {
    if (e.name == "metadata.json" || e.name == "model.weights.h5") keras_marker = true;
    if (!e.name.empty() && e.name.back() == '/' && e.uncompressed_size == 0) continue;
    Progress(location, e.data_offset);
    std::string_view contents;
    std::vector<ZipIssue> issues;
    bool got = zip.Extract(e, &storage, &contents, &issues);
    for (const ZipIssue& i : issues) add_issue(i);
    if (!got) continue;
    if (e.name == "config.json") keras_config.assign(contents);
    Format f = Format::kUnknown;
    ScanAny(contents, Join(location, e.name), depth, /*strict=*/true, &f);
  }
  if (keras_marker && !keras_config.empty()) {
    AddChecked(CheckKerasConfig(keras_config), Join(location, "config.json"));
  }
}

void ScanSession::ScanGzip(std::string_view data, const std::string& location, uint32_t depth,
                           bool gzip) {
  const std::string_view kind = gzip ? "gzip" : "zlib";
  std::string out;
  z_stream zs{};
  if (inflateInit2(&zs, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
    Incomplete(StrCat(Join(location, kind), ": zlib initialization failed"));
    return;
  }
  uint64_t fed = 0;
  auto refill = [&] {
    if (zs.avail_in == 0 && fed < data.size()) {
      uInt n = static_cast<uInt>(std::min<uint64_t>(data.size() - fed, 1u << 30));
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + fed));
      zs.avail_in = n;
      fed += n;
    }
  };
  bool limit = false, done = false;
  constexpr size_t kChunk = 1 << 16;
  while (true) {
    refill();
    size_t old = out.size();
    if (old >= options_.max_gzip_bytes) {
      limit = true;
      break;
    }
    out.resize(old + kChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = kChunk;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + (kChunk - zs.avail_out));
    const uint64_t consumed = fed - zs.avail_in;
    if (out.size() > options_.zip.ratio_exempt_bytes &&
        out.size() / std::max<uint64_t>(consumed, 1) > options_.zip.max_ratio) {
      limit = true;
      break;
    }
    if (rc == Z_STREAM_END) {
      refill();
      if (zs.avail_in == 0) {
        done = true;
        break;
      }
      // Another member: gzip -d and Python's gzip module read them all. zlib streams end
      // at their first end marker (zlib.decompress rejects anything after it).
      if (!gzip || inflateReset(&zs) != Z_OK) break;
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;                              // corrupt
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed >= data.size()) break;  // truncated
  }
  inflateEnd(&zs);
  std::string where = Join(location, kind);
  if (limit) {
    Add(ModelFinding{StrCat(kind, ".limit"), Severity::kHigh, location, 0, "",
                     StrCat(kind, " stream exceeds the size or ratio limit; not scanned"), 1});
    Incomplete(StrCat(where, ": over the decompression limit"));
    return;
  }
  if (!done) {
    Add(ModelFinding{StrCat(kind, ".malformed"), Severity::kHigh, location, fed - zs.avail_in, "",
                     StrCat(kind, " stream is corrupt or truncated; the part inflated was scanned"),
                     1});
    Incomplete(StrCat(where, ": corrupt or truncated ", kind, " stream"));
  }
  Format f = Format::kUnknown;
  ScanAny(out, where, depth, /*strict=*/false, &f);
}

namespace {

// Compression filters that libarchive implements itself. A filter it would run through an
// external program (when built without the library) is never enabled: no process is ever
// started on untrusted bytes.
struct BuiltinFilters {
  bool gzip = false, bzip2 = false, xz = false, lzma = false, zstd = false, lz4 = false;
};

const BuiltinFilters& Filters() {
  static const BuiltinFilters filters = [] {
    BuiltinFilters f;
    struct archive* a = archive_read_new();
    f.gzip = archive_read_support_filter_gzip(a) == ARCHIVE_OK;
    f.bzip2 = archive_read_support_filter_bzip2(a) == ARCHIVE_OK;
    f.xz = archive_read_support_filter_xz(a) == ARCHIVE_OK;
    f.lzma = archive_read_support_filter_lzma(a) == ARCHIVE_OK;
    f.zstd = archive_read_support_filter_zstd(a) == ARCHIVE_OK;
    f.lz4 = archive_read_support_filter_lz4(a) == ARCHIVE_OK;
    archive_read_free(a);
    return f;
  }();
  return filters;
}

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Entry paths that escape the extraction directory (legacy torch.load extracts tar members).
bool EscapingPath(std::string_view p) {
  if (p.starts_with("/")) return true;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

// tar, 7z and single compressed streams (xz, bzip2, zstd, lz4) through libarchive. Every
// regular entry is extracted under the size and ratio limits and scanned by content.
void ScanSession::ScanArchive(std::string_view data, Format f, const std::string& location,
                              uint32_t depth) {
  const std::string kind(FormatName(f));
  const BuiltinFilters& filters = Filters();
  std::unique_ptr<struct archive, ArchiveCloser> a(archive_read_new());
  const bool stream = f != Format::kTar && f != Format::kSevenZip;
  bool supported = true;
  if (f == Format::kXz) supported = filters.xz;
  if (f == Format::kBzip2) supported = filters.bzip2;
  if (f == Format::kZstd) supported = filters.zstd;
  if (f == Format::kLz4) supported = filters.lz4;
  if (!supported) {
    Add(ModelFinding{"archive.unsupported", Severity::kMedium, location, 0, kind,
                     StrCat("this build of libarchive has no built-in ", kind, " decoder"), 1});
    Incomplete(StrCat(Join(location, kind), ": no built-in decoder"));
    return;
  }
  if (filters.gzip) archive_read_support_filter_gzip(a.get());
  if (filters.bzip2) archive_read_support_filter_bzip2(a.get());
  if (filters.xz) archive_read_support_filter_xz(a.get());
  if (filters.lzma) archive_read_support_filter_lzma(a.get());
  if (filters.zstd) archive_read_support_filter_zstd(a.get());
  if (filters.lz4) archive_read_support_filter_lz4(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_7zip(a.get());
  // A compressed stream holds a tar (bids higher) or a single file (raw).
  if (stream) archive_read_support_format_raw(a.get());

  auto fail = [&](std::string_view id, std::string_view entry, std::string why) {
    Add(ModelFinding{std::string(id), Severity::kHigh, location, 0, std::string(entry), why, 1});
    Incomplete(StrCat(Join(location, entry.empty() ? kind : std::string(entry)), ": ", why));
  };
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) {
    fail("archive.malformed", "",
         StrCat(kind, " cannot be opened: ",
                archive_error_string(a.get()) != nullptr ? archive_error_string(a.get())
                                                         : "unknown error"));
    return;
  }
  uint64_t total = 0, entries = 0;
  std::string contents;
  std::vector<char> buf(1 << 16);
  while (true) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      const char* err = archive_error_string(a.get());
      fail("archive.malformed", "",
           StrCat(kind, " is corrupt or truncated after ", entries,
                  " entries: ", err != nullptr ? err : "unknown error"));
      return;
    }
    if (++entries > options_.zip.max_entries) {
      fail("archive.limit", "", StrCat("more than ", options_.zip.max_entries, " entries"));
      return;
    }
    const char* raw_name = archive_entry_pathname(e);
    // The raw format names its single entry "data".
    std::string name = raw_name != nullptr ? raw_name : "";
    if (stream && name == "data") name = kind;
    const std::string where = Join(location, name);
    if (EscapingPath(name)) {
      Add(ModelFinding{"archive.path", Severity::kHigh, location, 0, name,
                       "entry path is absolute or climbs out with '..' (path traversal when "
                       "extracted)",
                       1});
    }
    if (archive_entry_hardlink(e) != nullptr || archive_entry_filetype(e) == AE_IFLNK) {
      Add(ModelFinding{"archive.link", Severity::kMedium, location, 0, name,
                       "symbolic or hard link entry (can point outside the extraction directory)",
                       1});
      continue;
    }
    if (archive_entry_filetype(e) != AE_IFREG && !(stream && archive_entry_filetype(e) == 0)) {
      continue;
    }
    if (archive_entry_is_encrypted(e)) {
      Add(ModelFinding{"archive.unsupported", Severity::kMedium, location, 0, name,
                       "encrypted entry; not scanned", 1});
      Incomplete(StrCat(where, ": encrypted"));
      continue;
    }
    Progress(location, archive_read_header_position(a.get()) >= 0
                           ? static_cast<uint64_t>(archive_read_header_position(a.get()))
                           : 0);
    contents.clear();
    bool limit = false, broken = false;
    while (true) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        broken = true;
        break;
      }
      contents.append(buf.data(), static_cast<size_t>(n));
      total += static_cast<uint64_t>(n);
      if (contents.size() > options_.zip.max_entry_bytes ||
          (total > options_.zip.ratio_exempt_bytes &&
           total / std::max<uint64_t>(data.size(), 1) > options_.zip.max_ratio)) {
        limit = true;
        break;
      }
    }
    if (limit) {
      fail("archive.limit", name,
           "entry inflates past the size or ratio limit (decompression bomb); not scanned");
      return;
    }
    if (broken) {
      const char* err = archive_error_string(a.get());
      Add(ModelFinding{
          "archive.malformed", Severity::kHigh, location, 0, name,
          StrCat("entry data is corrupt or truncated: ", err != nullptr ? err : "unknown error",
                 "; the part read was scanned"),
          1});
      Incomplete(StrCat(where, ": corrupt or truncated entry"));
    }
    Format inner = Format::kUnknown;
    ScanAny(contents, where, depth, /*strict=*/!stream, &inner);
    if (broken) return;
  }
}

void ScanSession::ScanNpy(std::string_view data, const std::string& location, uint32_t depth) {
  // \x93NUMPY, major, minor, header length (2 bytes in 1.x, 4 bytes in 2.x and 3.x), header.
  auto malformed = [&](std::string_view why) {
    Add(ModelFinding{"npy.malformed", Severity::kHigh, location, 0, "", std::string(why), 1});
    Incomplete(StrCat(location.empty() ? "npy" : location, ": ", why));
  };
  if (data.size() < 10) return malformed("header truncated");
  const unsigned major = static_cast<unsigned char>(data[6]);
  uint64_t header_len = 0, start = 0;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(data[8]) | (uint64_t{static_cast<unsigned char>(data[9])} << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12) return malformed("header truncated");
    for (int i = 0; i < 4; ++i) {
      header_len |= uint64_t{static_cast<unsigned char>(data[8 + i])} << (8 * i);
    }
    start = 12;
  } else {
    return malformed(StrCat("unknown .npy version ", major));
  }
  if (header_len > data.size() - start) return malformed("header longer than the file");
  std::string_view header = data.substr(start, header_len);
  size_t descr = header.find("descr");
  if (descr == std::string_view::npos) return malformed("header has no descr");
  // Object arrays ('|O', or 'O' fields of a structured dtype) are pickled after the header,
  // and numpy.load(allow_pickle=True) unpickles them.
  std::string_view rest = header.substr(descr);
  size_t stop = std::min({rest.find("fortran_order"), rest.find("shape"), rest.size()});
  std::string_view descr_value = rest.substr(0, stop);
  bool object = descr_value.find("O'") != std::string_view::npos ||
                descr_value.find("O\"") != std::string_view::npos;
  if (!object) return;
  std::string where = Join(location, "npy-objects");
  std::string_view payload = data.substr(start + header_len);
  if (payload.empty()) return;
  ScanPickle(payload, where, depth);
}

ScanReport ModelScanner::Scan(std::string_view data, const Progress& progress) const {
  ScanReport report;
  ScanSession session(options_, &report, progress);
  session.ScanAny(data, "", 0, /*strict=*/false, &report.format);
  if (report.format == Format::kUnknown) {
    report.findings.push_back(ModelFinding{"file.unrecognized", Severity::kLow, "", 0, "",
                                           "format not recognized; not scanned", 1});
  } else if (report.format == Format::kEmpty) {
    report.findings.push_back(
        ModelFinding{"file.empty", Severity::kLow, "", 0, "", "empty file", 1});
  }
  return report;
}

}  // namespace rampart::supply
