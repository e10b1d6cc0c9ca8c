// rampart sign: signs a model directory (or file) in the OpenSSF Model Signing v1.0 format
// with the key or certificate method. See docs/signing.md.
//
//   rampart sign MODEL --key KEY.pem [--certificate-chain CHAIN.pem] [--output SIG]
//                [--ignore-paths P...] [--force]
//
// The bundle goes to MODEL/model.sig for a directory, MODEL.sig for a file, unless --output.
// Exit: 0 signed, 2 usage or input error.
#include <sys/stat.h>

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
#include "supply/oms.h"

namespace rampart::cli {
namespace {

struct SignFlags {
  std::string model;
  std::string key;
  std::string chain;
  std::string output;
  std::vector<std::string> ignore_paths;
  bool force = false;
  unsigned threads = 0;
};

int RunSign(const SignFlags& flags) {
  constexpr size_t kMaxPem = size_t{1} << 20;
  absl::StatusOr<std::string> key = ReadFileBounded(flags.key, kMaxPem);
  if (!key.ok()) return ReportError("sign", key.status());
  supply::oms::SignOptions opt;
  opt.private_key_pem = *std::move(key);
  if (!flags.chain.empty()) {
    absl::StatusOr<std::string> chain = ReadFileBounded(flags.chain, kMaxPem);
    if (!chain.ok()) return ReportError("sign", chain.status());
    opt.certificate_chain_pem = *std::move(chain);
  }
  std::error_code ec;
  std::string output = flags.output;
  if (output.empty()) {
    output = std::filesystem::is_directory(flags.model, ec) ? StrCat(flags.model, "/model.sig")
                                                            : StrCat(flags.model, ".sig");
  }
  if (!flags.force && std::filesystem::exists(std::filesystem::symlink_status(output, ec))) {
    std::fprintf(stderr, "rampart sign: %s exists; pass --force to overwrite it\n",
                 ForTerminal(output).c_str());
    return kExitError;
  }
  opt.bundle_path = output;
  opt.ignore_paths = flags.ignore_paths;
  opt.threads = flags.threads;
  absl::StatusOr<std::string> bundle = supply::oms::Sign(flags.model, opt);
  if (!bundle.ok()) return ReportError("sign", bundle.status());
  const std::string tmp = StrCat(output, ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << *bundle;
    out.close();
    if (!out) {
      std::fprintf(stderr, "rampart sign: cannot write %s\n", ForTerminal(tmp).c_str());
      return kExitError;
    }
  }
  std::filesystem::rename(tmp, output, ec);
  if (ec) {
    std::fprintf(stderr, "rampart sign: cannot write %s: %s\n", ForTerminal(output).c_str(),
                 ec.message().c_str());
    return kExitError;
  }
  std::printf("signed %s (%s method) -> %s\n", ForTerminal(flags.model).c_str(),
              flags.chain.empty() ? "key" : "certificate", ForTerminal(output).c_str());
  return kExitClean;
}

}  // namespace

void RegisterSign(CLI::App& app) {
  auto flags = std::make_shared<SignFlags>();
  CLI::App* sub = app.add_subcommand(
      "sign", "Sign a model (OpenSSF Model Signing v1.0 bundle, key or certificate method)");
  sub->add_option("model", flags->model, "Model directory or file")->required();
  sub->add_option("--key", flags->key, "Private key, PEM (EC P-256/384/521)")->required();
  sub->add_option("--certificate-chain", flags->chain,
                  "Signing certificate then intermediates, PEM (certificate method)");
  sub->add_option("--output,-o", flags->output,
                  "Bundle path. Default: MODEL/model.sig (directory) or MODEL.sig (file)");
  sub->add_option("--ignore-paths", flags->ignore_paths,
                  "Paths relative to the model to leave out");
  sub->add_option("--threads", flags->threads, "Hashing threads (0 = one per core)");
  sub->add_flag("--force", flags->force, "Overwrite an existing bundle");
  AddCommand(sub, [flags] { return RunSign(*flags); });
}

}  // namespace rampart::cli
