// rampart manifest: pinned per-file manifests of a model directory. See docs/signing.md.
//
//   rampart manifest create DIR [--output F] [--no-scan] [--ignore-paths P...] [--force]
//   rampart manifest verify DIR [--manifest F] [--ignore-paths P...]
//
// create writes path, size, SHA-256, sniffed format and scan-model verdict of every file
// (default DIR/rampart-manifest.json, itself left out). verify fails on any changed, missing
// or extra file. Exit: 0 ok, 1 the directory differs from the manifest, 2 usage or I/O error.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "common/file.h"
#include "common/strings.h"
#include "rampart/finding.h"
#include "supply/manifest.h"

namespace rampart::cli {
namespace {

namespace fs = std::filesystem;

struct ManifestFlags {
  std::string dir;
  std::string file;
  std::vector<std::string> ignore_paths;
  bool no_scan = false;
  bool force = false;
  unsigned threads = 0;
};

// The manifest path, and that path relative to `dir` when it lies inside it (to leave out).
std::pair<std::string, std::string> ManifestPath(const ManifestFlags& flags) {
  std::string path =
      flags.file.empty() ? StrCat(flags.dir, "/", supply::kDefaultManifestName) : flags.file;
  std::error_code ec;
  const fs::path rel =
      fs::weakly_canonical(path, ec).lexically_relative(fs::weakly_canonical(flags.dir, ec));
  std::string inside = !rel.empty() && *rel.begin() != ".." ? rel.generic_string() : "";
  return {path, inside};
}

int RunCreate(const ManifestFlags& flags) {
  auto [path, inside] = ManifestPath(flags);
  std::error_code ec;
  if (!flags.force && fs::exists(fs::symlink_status(path, ec))) {
    std::fprintf(stderr, "rampart manifest create: %s exists; pass --force to overwrite it\n",
                 ForTerminal(path).c_str());
    return kExitError;
  }
  supply::ManifestOptions opt;
  opt.list.ignore_paths = flags.ignore_paths;
  if (!inside.empty()) opt.list.ignore_paths.push_back(inside);
  opt.scan = !flags.no_scan;
  opt.threads = flags.threads;
  absl::StatusOr<supply::Manifest> m = supply::CreateManifest(flags.dir, opt);
  if (!m.ok()) return ReportError("manifest create", m.status());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << supply::ManifestToJson(*m);
  out.close();
  if (!out) {
    std::fprintf(stderr, "rampart manifest create: cannot write %s\n", ForTerminal(path).c_str());
    return kExitError;
  }
  size_t flagged = 0;
  for (const auto& e : m->files) {
    // scan-model's default fail level: medium.
    std::optional<Severity> sev = ParseSeverity(e.verdict);
    if (e.verdict == "incomplete" || (sev && *sev >= Severity::kMedium)) {
      ++flagged;
      std::printf("  %s: %s (%s)\n", ForTerminal(e.path).c_str(), e.verdict.c_str(),
                  e.format.c_str());
    }
  }
  std::printf("wrote %s: %zu files, %zu at or above medium (see rampart scan-model)\n",
              ForTerminal(path).c_str(), m->files.size(), flagged);
  return kExitClean;
}

int RunVerifyManifest(const ManifestFlags& flags) {
  auto [path, inside] = ManifestPath(flags);
  absl::StatusOr<std::string> text = ReadFileBounded(path, size_t{256} << 20);
  if (!text.ok()) return ReportError("manifest verify", text.status());
  absl::StatusOr<supply::Manifest> m = supply::ManifestFromJson(*text);
  if (!m.ok()) return ReportError("manifest verify", m.status());
  supply::ListOptions list;
  list.ignore_paths = flags.ignore_paths;
  if (!inside.empty()) list.ignore_paths.push_back(inside);
  absl::StatusOr<supply::ManifestDiff> diff =
      supply::VerifyManifest(flags.dir, *m, list, flags.threads);
  if (!diff.ok()) return ReportError("manifest verify", diff.status());
  for (const auto& f : diff->changed) std::printf("changed: %s\n", ForTerminal(f).c_str());
  for (const auto& f : diff->missing) std::printf("missing: %s\n", ForTerminal(f).c_str());
  for (const auto& f : diff->extra) std::printf("extra:   %s\n", ForTerminal(f).c_str());
  if (!diff->clean()) {
    std::fprintf(stderr,
                 "rampart manifest verify: %s does not match %s (%zu changed, %zu "
                 "missing, %zu extra)\n",
                 ForTerminal(flags.dir).c_str(), ForTerminal(path).c_str(), diff->changed.size(),
                 diff->missing.size(), diff->extra.size());
    return kExitFindings;
  }
  std::printf("ok: %s matches %s (%zu files)\n", ForTerminal(flags.dir).c_str(),
              ForTerminal(path).c_str(), m->files.size());
  return kExitClean;
}

}  // namespace

void RegisterManifest(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("manifest", "Pinned per-file manifests of a model");
  sub->require_subcommand(1);
  {
    auto flags = std::make_shared<ManifestFlags>();
    CLI::App* c = sub->add_subcommand("create", "Hash and scan every file into a manifest");
    c->add_option("dir", flags->dir, "Model directory")->required();
    c->add_option("--output,-o", flags->file, "Manifest path. Default: DIR/rampart-manifest.json");
    c->add_option("--ignore-paths", flags->ignore_paths, "Paths relative to DIR to leave out");
    c->add_flag("--no-scan", flags->no_scan, "Hash only; skip format detection and scanning");
    c->add_flag("--force", flags->force, "Overwrite an existing manifest");
    c->add_option("--threads", flags->threads, "Threads (0 = one per core)");
    AddCommand(c, [flags] { return RunCreate(*flags); });
  }
  {
    auto flags = std::make_shared<ManifestFlags>();
    CLI::App* v = sub->add_subcommand("verify", "Fail on any changed, missing or extra file");
    v->add_option("dir", flags->dir, "Model directory")->required();
    v->add_option("--manifest,-m", flags->file,
                  "Manifest path. Default: DIR/rampart-manifest.json");
    v->add_option("--ignore-paths", flags->ignore_paths, "Paths relative to DIR to leave out");
    v->add_option("--threads", flags->threads, "Threads (0 = one per core)");
    AddCommand(v, [flags] { return RunVerifyManifest(*flags); });
  }
}

}  // namespace rampart::cli
