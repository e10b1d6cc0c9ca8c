// rampart verify: verifies an OpenSSF Model Signing v1.0 bundle against a model. See
// docs/signing.md.
//
//   rampart verify MODEL (--key PUB.pem | --trust-root CA.pem... |
//                         --method sigstore --trusted-root R.json --identity I --issuer U)
//                  [--signature SIG] [--ignore-paths P...] [--ignore-unsigned-files]
//                  [--format text|json]
//
// Exit: 0 verified, 1 verification failed (the failing check and files are named), 2 usage
// or input error.
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
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

struct VerifyFlags {
  std::string model;
  std::string method;
  std::string key;
  std::vector<std::string> trust_roots;
  std::string signature;
  std::vector<std::string> ignore_paths;
  bool ignore_unsigned_files = false;
  std::string trusted_root;
  std::string identity;
  std::string issuer;
  std::string format = "text";
  unsigned threads = 0;
};

int RunVerify(const VerifyFlags& flags) {
  namespace oms = supply::oms;
  if (flags.format != "text" && flags.format != "json") {
    std::fprintf(stderr, "rampart verify: --format must be text or json\n");
    return kExitError;
  }
  std::string method_name = flags.method;
  if (method_name.empty()) {
    if (!flags.key.empty())
      method_name = "key";
    else if (!flags.trust_roots.empty())
      method_name = "certificate";
    else {
      std::fprintf(stderr, "rampart verify: pass --key PUB.pem or --trust-root CA.pem\n");
      return kExitError;
    }
  }
  std::optional<oms::Method> method = oms::ParseMethod(method_name);
  if (!method) {
    std::fprintf(stderr, "rampart verify: --method must be key, certificate or sigstore\n");
    return kExitError;
  }
  constexpr size_t kMaxPem = size_t{1} << 20;
  oms::VerifyOptions opt;
  opt.method = *method;
  if (*method == oms::Method::kKey) {
    if (flags.key.empty()) {
      std::fprintf(stderr, "rampart verify: --method key needs --key PUB.pem\n");
      return kExitError;
    }
    absl::StatusOr<std::string> key = ReadFileBounded(flags.key, kMaxPem);
    if (!key.ok()) return ReportError("verify", key.status());
    opt.public_key_pem = *std::move(key);
  } else if (*method == oms::Method::kSigstore) {
    if (flags.trusted_root.empty() || flags.identity.empty() || flags.issuer.empty()) {
      std::fprintf(stderr,
                   "rampart verify: --method sigstore needs --trusted-root, --identity "
                   "and --issuer\n");
      return kExitError;
    }
    absl::StatusOr<std::string> root = ReadFileBounded(flags.trusted_root, size_t{16} << 20);
    if (!root.ok()) return ReportError("verify", root.status());
    opt.trusted_root_json = *std::move(root);
    opt.identity = flags.identity;
    opt.issuer = flags.issuer;
  } else if (*method == oms::Method::kCertificate) {
    if (flags.trust_roots.empty()) {
      std::fprintf(stderr, "rampart verify: --method certificate needs --trust-root CA.pem\n");
      return kExitError;
    }
    for (const std::string& r : flags.trust_roots) {
      absl::StatusOr<std::string> pem = ReadFileBounded(r, kMaxPem);
      if (!pem.ok()) return ReportError("verify", pem.status());
      opt.trust_roots_pem.push_back(*std::move(pem));
    }
  }
  std::error_code ec;
  std::string sig = flags.signature;
  if (sig.empty()) {
    sig = std::filesystem::is_directory(flags.model, ec) ? StrCat(flags.model, "/model.sig")
                                                         : StrCat(flags.model, ".sig");
  }
  absl::StatusOr<std::string> bundle = ReadFileBounded(sig, oms::kMaxBundleBytes);
  if (!bundle.ok()) return ReportError("verify", bundle.status());
  opt.bundle_path = sig;
  opt.ignore_paths = flags.ignore_paths;
  opt.ignore_unsigned_files = flags.ignore_unsigned_files;
  opt.threads = flags.threads;
  absl::StatusOr<oms::VerifyResult> r = oms::Verify(*bundle, flags.model, opt);
  if (!r.ok()) return ReportError("verify", r.status());
  const int rc = r->verified ? kExitClean : kExitFindings;
  if (flags.format == "json") {
    boost::json::object o{{"model", flags.model},
                          {"signature", sig},
                          {"method", std::string(oms::MethodName(*method))},
                          {"verified", r->verified},
                          {"check", r->check},
                          {"message", r->message},
                          {"files", r->files.size()}};
    std::printf("%s\n", boost::json::serialize(o).c_str());
    return rc;
  }
  if (r->verified) {
    std::printf("verified: %s (%s method, %zu files, %s)\n", ForTerminal(flags.model).c_str(),
                std::string(oms::MethodName(*method)).c_str(), r->files.size(),
                r->predicate_type.c_str());
  } else {
    std::fprintf(stderr, "rampart verify: VERIFICATION FAILED: %s: %s\n", r->check.c_str(),
                 ForTerminal(r->message).c_str());
  }
  return rc;
}

}  // namespace

void RegisterVerify(CLI::App& app) {
  auto flags = std::make_shared<VerifyFlags>();
  CLI::App* sub = app.add_subcommand(
      "verify", "Verify an OpenSSF Model Signing v1.0 bundle (key, certificate or sigstore)");
  sub->add_option("model", flags->model, "Model directory or file")->required();
  sub->add_option("--method", flags->method,
                  "key, certificate or sigstore. Default: from the flags");
  sub->add_option("--key", flags->key, "Public key, PEM (key method)");
  sub->add_option("--trust-root", flags->trust_roots,
                  "Trusted CA certificate(s), PEM (certificate method)");
  sub->add_option("--signature,-s", flags->signature,
                  "Bundle path. Default: MODEL/model.sig (directory) or MODEL.sig (file)");
  sub->add_option("--ignore-paths", flags->ignore_paths,
                  "Paths relative to the model to leave out");
  sub->add_flag("--ignore-unsigned-files", flags->ignore_unsigned_files,
                "Pass even when files not covered by the signature are present");
  sub->add_option("--trusted-root", flags->trusted_root,
                  "sigstore: pinned Sigstore trusted_root.json (Fulcio CAs, Rekor keys)");
  sub->add_option("--identity", flags->identity,
                  "sigstore: expected signer identity (certificate SAN email or URI)");
  sub->add_option("--issuer", flags->issuer, "sigstore: expected OIDC issuer");
  sub->add_option("--format", flags->format, "text or json")->capture_default_str();
  sub->add_option("--threads", flags->threads, "Hashing threads (0 = one per core)");
  AddCommand(sub, [flags] { return RunVerify(*flags); });
}

}  // namespace rampart::cli
