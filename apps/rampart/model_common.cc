#include "model_common.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

#include "common/line_reader.h"
#include "common/strings.h"

namespace rampart::cli {

std::string ResolveModelPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("RAMPART_MODEL"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const auto& candidate :
         {exe.parent_path() / "models" / "injection.model",
          exe.parent_path().parent_path() / "models" / "injection.model",
          exe.parent_path().parent_path() / "share" / "rampart" / "models" / "injection.model"}) {
      if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
    }
  }
  return std::string(RAMPART_INSTALL_MODELS_DIR) + "/injection.model";
}

std::string ManifestPathFor(const std::string& model_path) {
  std::string base = model_path;
  const std::string ext = ".model";
  if (base.size() > ext.size() && base.compare(base.size() - ext.size(), ext.size(), ext) == 0) {
    base.resize(base.size() - ext.size());
  }
  return base + ".manifest.json";
}

absl::StatusOr<std::shared_ptr<const detectors::InjectionModel>> LoadInjectionModel(
    const std::string& flag) {
  std::string path = ResolveModelPath(flag);
  auto m = detectors::InjectionModel::Load(path, ManifestPathFor(path));
  if (!m.ok()) {
    return absl::Status(m.status().code(),
                        StrCat("cannot load the injection model: ", m.status().message(),
                               " (retrain with `rampart train injection`, or run the rules "
                               "alone with --no-model)"));
  }
  return m;
}

absl::StatusOr<std::vector<LabelledText>> ReadLabelledJsonl(const std::string& path) {
  auto reader = LineReader::Open(path, 16u << 20);
  if (!reader.ok()) return reader.status();
  std::vector<LabelledText> out;
  std::string line;
  boost::json::parse_options opts;
  opts.max_depth = 32;
  while (true) {
    auto more = (*reader)->Next(line);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec, {}, opts);
    const boost::json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    if (o == nullptr || !o->contains("text") || !o->at("text").is_string()) {
      return absl::InvalidArgumentError(
          StrCat(path, ": line ", (*reader)->line_number(), ": not a record with a string 'text'"));
    }
    LabelledText r;
    r.text = std::string(o->at("text").as_string());
    if (auto* l = o->if_contains("label"); l && l->is_int64()) r.label = l->as_int64() != 0;
    if (auto* c = o->if_contains("category"); c && c->is_string()) r.category = c->as_string();
    if (auto* s = o->if_contains("source"); s && s->is_string()) r.source = s->as_string();
    r.line = (*reader)->line_number();
    out.push_back(std::move(r));
  }
  if (out.empty()) return absl::InvalidArgumentError(StrCat(path, ": no records"));
  return out;
}

}  // namespace rampart::cli
