#include "supply/oms.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "common/crypto.h"
#include "common/strings.h"
#include "supply/file_hasher.h"

namespace rampart::supply::oms {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// ---------------------------------------------------------------------------------------
// OpenSSL ownership helpers.

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  return n > 0 ? std::string(p, static_cast<size_t>(n)) : std::string();
}

// The digest OMS pairs with each curve; nullptr for keys that are not EC P-256/384/521.
const EVP_MD* DigestForKey(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return nullptr;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) return nullptr;
  const std::string_view g(group, len);
  if (g == "prime256v1" || g == "P-256") return EVP_sha256();
  if (g == "secp384r1" || g == "P-384") return EVP_sha384();
  if (g == "secp521r1" || g == "P-521") return EVP_sha512();
  return nullptr;
}

absl::StatusOr<PkeyPtr> ParsePublicKey(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM public key");
  if (DigestForKey(key.get()) == nullptr) {
    return absl::InvalidArgumentError("public key is not EC P-256, P-384 or P-521");
  }
  return key;
}

absl::StatusOr<PkeyPtr> ParsePrivateKey(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  // An empty passphrase callback result makes encrypted keys fail instead of prompting.
  auto no_password = [](char*, int, int, void*) -> int { return 0; };
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError("not an unencrypted PEM private key");
  }
  if (DigestForKey(key.get()) == nullptr) {
    return absl::InvalidArgumentError("private key is not EC P-256, P-384 or P-521");
  }
  return key;
}

std::string CanonicalPublicPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) return "";
  return BioContents(bio.get());
}

bool VerifySignature(EVP_PKEY* key, const EVP_MD* md, std::string_view message,
                     std::string_view sig) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

absl::StatusOr<std::string> SignMessage(EVP_PKEY* key, std::string_view message) {
  const EVP_MD* md = DigestForKey(key);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("EVP_DigestSign failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("EVP_DigestSign failed");
  }
  sig.resize(len);
  return sig;
}

std::vector<X509Ptr> ParsePemCertificates(std::string_view pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = MemBio(pem);
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(c);
  }
  ERR_clear_error();
  return out;
}

X509Ptr ParseDerCertificate(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert != nullptr && p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    cert.reset();  // trailing bytes after the certificate
  }
  ERR_clear_error();
  return cert;
}

std::string CertificateDer(X509* cert) {
  int n = i2d_X509(cert, nullptr);
  if (n <= 0) return "";
  std::string out(static_cast<size_t>(n), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509(cert, &p);
  return out;
}

// ---------------------------------------------------------------------------------------
// JSON access that never throws.

const json::object* GetObject(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}
const json::array* GetArray(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_array() ? &it->value().get_array() : nullptr;
}
const json::string* GetString(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? &it->value().get_string() : nullptr;
}
std::string_view View(const json::string& s) { return std::string_view(s.data(), s.size()); }

std::optional<json::value> ParseJson(std::string_view text) {
  json::parse_options opt;
  opt.max_depth = 64;
  boost::system::error_code ec;
  json::storage_ptr sp;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, sp, opt);
  if (ec) return std::nullopt;
  return v;
}

std::optional<Sha256Digest> ParseHexDigest(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256Digest d{};
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return d;
}

bool IsBundleMediaType(std::string_view t) {
  static constexpr std::string_view kTypes[] = {
      "application/vnd.dev.sigstore.bundle.v0.3+json",
      "application/vnd.dev.sigstore.bundle+json;version=0.3",
      "application/vnd.dev.sigstore.bundle+json;version=0.2",
      "application/vnd.dev.sigstore.bundle+json;version=0.1",
  };
  return std::find(std::begin(kTypes), std::end(kTypes), t) != std::end(kTypes);
}

VerifyResult Fail(std::string check, std::string message) {
  VerifyResult r;
  r.check = std::move(check);
  r.message = std::move(message);
  return r;
}

// Joins up to 10 names for a message; the count says how many there were.
std::string NameList(const std::vector<std::string>& names) {
  std::vector<std::string> shown(names.begin(), names.begin() + std::min<size_t>(names.size(), 10));
  std::string out = StrJoin(shown, ", ");
  if (names.size() > shown.size()) StrAppend(&out, " and ", names.size() - shown.size(), " more");
  return out;
}

struct Resource {
  std::string name;
  Sha256Digest digest{};
};

struct Statement {
  std::string predicate_type;
  std::vector<Resource> resources;
  std::vector<std::string> ignore_paths;
  bool allow_symlinks = false;
};

// Checks the decoded statement (the structure the statement and predicate schemas require,
// plus the checks the schemas cannot express) and extracts the resources.
std::optional<VerifyResult> ParseStatement(std::string_view payload, Statement* out) {
  std::optional<json::value> v = ParseJson(payload);
  if (!v || !v->is_object()) return Fail("statement.schema", "payload is not a JSON object");
  const json::object& st = v->get_object();
  const json::string* type = GetString(st, "_type");
  if (type == nullptr || View(*type) != kStatementType) {
    return Fail("statement.schema", StrCat("_type must be ", kStatementType));
  }
  const json::string* ptype = GetString(st, "predicateType");
  const json::array* subject = GetArray(st, "subject");
  const json::object* predicate = GetObject(st, "predicate");
  if (ptype == nullptr) return Fail("statement.schema", "predicateType is missing");
  if (subject == nullptr || subject->empty()) {
    return Fail("statement.schema", "subject must be a non-empty array");
  }
  if (predicate == nullptr) return Fail("statement.schema", "predicate is missing");
  out->predicate_type = std::string(View(*ptype));

  std::set<std::string> seen;
  auto add = [&](std::string_view name, std::string_view hex,
                 std::string_view where) -> std::optional<VerifyResult> {
    std::optional<Sha256Digest> d = ParseHexDigest(hex);
    if (!d) return Fail("statement.schema", StrCat(where, ": digest is not 64 hex digits"));
    if (name.empty()) return Fail("statement.schema", StrCat(where, ": empty name"));
    if (!seen.insert(std::string(name)).second) {
      return Fail("statement.schema", StrCat(where, ": duplicate resource name"));
    }
    out->resources.push_back(Resource{std::string(name), *d});
    return std::nullopt;
  };

  if (View(*ptype) == kLegacyPredicateType) {
    for (size_t i = 0; i < subject->size(); ++i) {
      const std::string where = StrCat("subject[", i, "]");
      const json::object* s = (*subject)[i].if_object();
      const json::object* digest = s ? GetObject(*s, "digest") : nullptr;
      const json::string* name = s ? GetString(*s, "name") : nullptr;
      const json::string* sha = digest ? GetString(*digest, "sha256") : nullptr;
      if (name == nullptr || sha == nullptr) {
        return Fail("statement.schema", StrCat(where, ": needs name and digest.sha256"));
      }
      if (auto f = add(View(*name), View(*sha), where)) return f;
    }
    return std::nullopt;
  }
  if (View(*ptype) != kPredicateType) {
    return Fail("statement.schema", StrCat("predicateType must be ", kPredicateType));
  }
  if (subject->size() != 1) return Fail("statement.schema", "exactly one subject is required");
  const json::object* subj = (*subject)[0].if_object();
  const json::object* sdigest = subj ? GetObject(*subj, "digest") : nullptr;
  const json::string* ssha = sdigest ? GetString(*sdigest, "sha256") : nullptr;
  std::optional<Sha256Digest> root = ssha ? ParseHexDigest(View(*ssha)) : std::nullopt;
  if (!root) return Fail("statement.schema", "subject[0].digest.sha256 is missing or not hex");

  const json::object* ser = GetObject(*predicate, "serialization");
  const json::array* resources = GetArray(*predicate, "resources");
  if (ser == nullptr) return Fail("statement.schema", "predicate.serialization is missing");
  if (resources == nullptr || resources->empty()) {
    return Fail("statement.schema", "predicate.resources must be a non-empty array");
  }
  const json::string* method = GetString(*ser, "method");
  const json::string* hash_type = GetString(*ser, "hash_type");
  if (method == nullptr || View(*method) != "files") {
    return Fail("statement.schema",
                "serialization.method must be \"files\" (shards and other "
                "methods are not supported)");
  }
  if (hash_type == nullptr || View(*hash_type) != "sha256") {
    return Fail("statement.schema", "serialization.hash_type must be \"sha256\"");
  }
  if (auto it = ser->find("allow_symlinks"); it != ser->end()) {
    if (!it->value().is_bool()) {
      return Fail("statement.schema", "serialization.allow_symlinks must be a boolean");
    }
    out->allow_symlinks = it->value().get_bool();
  }
  if (const json::array* ign = GetArray(*ser, "ignore_paths")) {
    for (const json::value& p : *ign) {
      if (!p.is_string()) return Fail("statement.schema", "ignore_paths must hold strings");
      out->ignore_paths.emplace_back(View(p.get_string()));
    }
  }
  std::string concat;
  for (size_t i = 0; i < resources->size(); ++i) {
    const std::string where = StrCat("predicate.resources[", i, "]");
    const json::object* r = (*resources)[i].if_object();
    const json::string* name = r ? GetString(*r, "name") : nullptr;
    const json::string* alg = r ? GetString(*r, "algorithm") : nullptr;
    const json::string* digest = r ? GetString(*r, "digest") : nullptr;
    if (name == nullptr || alg == nullptr || digest == nullptr) {
      return Fail("statement.schema", StrCat(where, ": needs name, algorithm and digest"));
    }
    if (View(*alg) != "sha256") {
      return Fail("statement.schema", StrCat(where, ": algorithm must be sha256"));
    }
    if (auto f = add(View(*name), View(*digest), where)) return f;
    concat.append(reinterpret_cast<const char*>(out->resources.back().digest.data()), 32);
  }
  if (Sha256(concat) != *root) {
    return Fail("statement.subject_digest",
                "subject digest is not SHA-256 over the resource digests");
  }
  return std::nullopt;
}

// Compares the model with the statement's resources.
absl::StatusOr<VerifyResult> CheckModel(const std::string& model_path, const Statement& st,
                                        const VerifyOptions& options) {
  std::error_code ec;
  const fs::file_status status = fs::status(model_path, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(StrCat(model_path, ": no such file or directory"));
  }
  VerifyResult ok;
  ok.verified = true;
  ok.predicate_type = st.predicate_type;
  if (fs::is_regular_file(status)) {
    const std::string base = fs::path(model_path).filename().string();
    if (st.resources.size() != 1 || (st.resources[0].name != "." && st.resources[0].name != base)) {
      return Fail("model.files",
                  StrCat("the model is the single file ", base, " but the signature covers ",
                         st.resources.size(), " resources"));
    }
    absl::StatusOr<FileDigest> d = HashFile(model_path);
    if (!d.ok()) return d.status();
    if (d->sha256 != st.resources[0].digest) {
      return Fail("model.changed", StrCat("digest mismatch: ", base));
    }
    ok.files.push_back(base);
    return ok;
  }
  if (!fs::is_directory(status)) {
    return absl::InvalidArgumentError(StrCat(model_path, ": not a file or directory"));
  }

  ListOptions list;
  list.ignore_paths = st.ignore_paths;
  list.ignore_paths.insert(list.ignore_paths.end(), options.ignore_paths.begin(),
                           options.ignore_paths.end());
  list.allow_symlinks = st.allow_symlinks;
  if (!options.bundle_path.empty()) {
    const fs::path root = fs::weakly_canonical(model_path, ec);
    const fs::path bundle = fs::weakly_canonical(options.bundle_path, ec);
    const fs::path rel = bundle.lexically_relative(root);
    if (!ec && !rel.empty() && *rel.begin() != "..")
      list.ignore_paths.push_back(rel.generic_string());
  }
  absl::StatusOr<std::vector<std::string>> files = ListModelFiles(model_path, list);
  if (!files.ok()) {
    if (files.status().code() == absl::StatusCode::kInvalidArgument) {
      return Fail("model.files", std::string(files.status().message()));
    }
    return files.status();
  }
  std::map<std::string, Sha256Digest> expected;
  for (const Resource& r : st.resources) expected.emplace(r.name, r.digest);

  std::vector<std::string> to_hash, unsigned_files, missing, changed;
  for (const std::string& f : *files) {
    if (expected.count(f)) {
      to_hash.push_back(f);
    } else {
      unsigned_files.push_back(f);
    }
  }
  const std::set<std::string> present(files->begin(), files->end());
  for (const Resource& r : st.resources) {
    if (!present.count(r.name)) missing.push_back(r.name);
  }
  absl::StatusOr<std::vector<FileDigest>> digests = HashFiles(model_path, to_hash, options.threads);
  if (!digests.ok()) return digests.status();
  for (const FileDigest& d : *digests) {
    if (expected[d.path] != d.sha256) changed.push_back(d.path);
  }
  if (options.ignore_unsigned_files) unsigned_files.clear();
  if (!changed.empty() || !missing.empty() || !unsigned_files.empty()) {
    std::vector<std::string> parts;
    if (!changed.empty()) parts.push_back(StrCat("digest mismatch: ", NameList(changed)));
    if (!missing.empty()) parts.push_back(StrCat("signed file missing: ", NameList(missing)));
    if (!unsigned_files.empty()) {
      parts.push_back(StrCat("unsigned file: ", NameList(unsigned_files)));
    }
    const char* check = !changed.empty()   ? "model.changed"
                        : !missing.empty() ? "model.missing"
                                           : "model.unsigned";
    return Fail(check, StrJoin(parts, "; "));
  }
  for (const FileDigest& d : *digests) ok.files.push_back(d.path);
  return ok;
}

// The certificate method: the chain must lead to a trust anchor and the leaf must be fit
// for signing. Returns the leaf's public key through `key`.
std::optional<VerifyResult> CheckCertificateChain(const json::object& chain_obj,
                                                  const std::vector<X509Ptr>& anchors,
                                                  PkeyPtr* key) {
  const json::array* certs = GetArray(chain_obj, "certificates");
  if (certs == nullptr || certs->empty()) {
    return Fail("bundle.schema", "x509CertificateChain.certificates must be a non-empty array");
  }
  std::vector<X509Ptr> chain;
  for (size_t i = 0; i < certs->size(); ++i) {
    const json::object* c = (*certs)[i].if_object();
    const json::string* raw = c ? GetString(*c, "rawBytes") : nullptr;
    std::optional<std::string> der = raw ? Base64Decode(View(*raw)) : std::nullopt;
    X509Ptr cert = der ? ParseDerCertificate(*der) : nullptr;
    if (cert == nullptr) {
      return Fail("bundle.schema",
                  StrCat("x509CertificateChain.certificates[", i, "] is not a DER certificate"));
    }
    chain.push_back(std::move(cert));
  }
  StorePtr store(X509_STORE_new());
  for (const X509Ptr& a : anchors) X509_STORE_add_cert(store.get(), a.get());
  X509StackPtr untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i].get());
    sk_X509_push(untrusted.get(), chain[i].get());
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1) {
    ERR_clear_error();
    return Fail("certificate.chain", "cannot set up chain verification");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Fail("certificate.chain",
                StrCat("no valid path to a trust anchor: ", X509_verify_cert_error_string(err)));
  }
  X509* leaf = chain[0].get();
  const uint32_t flags = X509_get_extension_flags(leaf);
  const bool digital_signature =
      (flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) != 0;
  const bool code_signing =
      (flags & EXFLAG_XKUSAGE) != 0 && (X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN) != 0;
  if (!digital_signature && !code_signing) {
    return Fail("certificate.usage",
                "signing certificate has neither KeyUsage digitalSignature nor EKU codeSigning");
  }
  key->reset(X509_get_pubkey(leaf));
  if (*key == nullptr || DigestForKey(key->get()) == nullptr) {
    return Fail("certificate.usage", "signing certificate key is not EC P-256, P-384 or P-521");
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Sigstore (offline, against a pinned trusted_root.json).

std::optional<int64_t> ParseInt(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  if (it->value().is_int64()) return it->value().get_int64();
  if (it->value().is_uint64() && it->value().get_uint64() <= INT64_MAX) {
    return static_cast<int64_t>(it->value().get_uint64());
  }
  if (!it->value().is_string()) return std::nullopt;
  const json::string& s = it->value().get_string();
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Seconds since the epoch of an RFC 3339 UTC time ("2021-03-07T03:20:29Z", fractions
// ignored); nullopt when malformed.
std::optional<int64_t> ParseRfc3339(std::string_view t) {
  int y, mo, d, h, mi, sec;
  if (t.size() < 20 || std::sscanf(std::string(t.substr(0, 19)).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d",
                                   &y, &mo, &d, &h, &mi, &sec) != 6) {
    return std::nullopt;
  }
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm));
}

// True when `when` lies in the trusted-root object's validFor (an absent end is open).
bool ValidAt(const json::object& o, int64_t when) {
  const json::object* vf = GetObject(o, "validFor");
  if (vf == nullptr) return true;
  const json::string* start = GetString(*vf, "start");
  const json::string* end = GetString(*vf, "end");
  if (start != nullptr) {
    std::optional<int64_t> s = ParseRfc3339(View(*start));
    if (!s || when < *s) return false;
  }
  if (end != nullptr) {
    std::optional<int64_t> e = ParseRfc3339(View(*end));
    if (!e || when > *e) return false;
  }
  return true;
}

Sha256Digest HashChildren(const Sha256Digest& l, const Sha256Digest& r) {
  std::string buf(1, '\x01');
  buf.append(reinterpret_cast<const char*>(l.data()), 32);
  buf.append(reinterpret_cast<const char*>(r.data()), 32);
  return Sha256(buf);
}

// RFC 9162 section 2.1.3.2: the root computed from a leaf hash and its audit path.
std::optional<Sha256Digest> RootFromInclusionProof(uint64_t index, uint64_t size, Sha256Digest leaf,
                                                   const std::vector<Sha256Digest>& path) {
  if (index >= size) return std::nullopt;
  uint64_t fn = index, sn = size - 1;
  Sha256Digest r = leaf;
  for (const Sha256Digest& p : path) {
    if (sn == 0) return std::nullopt;
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return std::nullopt;
  return r;
}

// The string value of a Fulcio extension: OID .1.8 holds a DER UTF8String, legacy .1.1 the
// raw bytes.
std::optional<std::string> FulcioExtension(X509* cert, const char* oid, bool der_string) {
  ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
  if (obj == nullptr) return std::nullopt;
  const int idx = X509_get_ext_by_OBJ(cert, obj, -1);
  ASN1_OBJECT_free(obj);
  if (idx < 0) return std::nullopt;
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
  const unsigned char* p = ASN1_STRING_get0_data(data);
  const int len = ASN1_STRING_length(data);
  if (!der_string) return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
  ASN1_UTF8STRING* s = d2i_ASN1_UTF8STRING(nullptr, &p, len);
  if (s == nullptr) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string out(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                  static_cast<size_t>(ASN1_STRING_length(s)));
  ASN1_UTF8STRING_free(s);
  return out;
}

bool SanMatches(X509* cert, std::string_view identity) {
  GENERAL_NAMES* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  bool found = false;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    const ASN1_STRING* s = nullptr;
    if (gn->type == GEN_EMAIL) s = gn->d.rfc822Name;
    if (gn->type == GEN_URI) s = gn->d.uniformResourceIdentifier;
    if (s != nullptr && std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<size_t>(ASN1_STRING_length(s))) == identity) {
      found = true;
    }
  }
  GENERAL_NAMES_free(names);
  ERR_clear_error();
  return found;
}

using TsRespPtr = std::unique_ptr<TS_RESP, Deleter<TS_RESP, TS_RESP_free>>;
using TsVerifyCtxPtr = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX, TS_VERIFY_CTX_free>>;

// Verifies every RFC 3161 timestamp of the bundle: a TimeStampResp over the DSSE signature
// bytes, signed by a timestamp authority of the trust root (chain checked at the token's
// time), whose time lies inside the signing certificate's validity.
std::optional<VerifyResult> CheckTimestamps(const json::object& material, std::string_view sig,
                                            const json::object& trusted_root, X509* leaf) {
  const json::object* tvd = GetObject(material, "timestampVerificationData");
  const json::array* stamps = tvd ? GetArray(*tvd, "rfc3161Timestamps") : nullptr;
  if (stamps == nullptr) return std::nullopt;
  const json::array* tsas = GetArray(trusted_root, "timestampAuthorities");
  for (size_t i = 0; i < stamps->size(); ++i) {
    const std::string where = StrCat("rfc3161Timestamps[", i, "]");
    const json::object* so = (*stamps)[i].if_object();
    const json::string* b64 = so ? GetString(*so, "signedTimestamp") : nullptr;
    std::optional<std::string> der = b64 ? Base64Decode(View(*b64)) : std::nullopt;
    if (!der) return Fail("bundle.schema", StrCat(where, ": signedTimestamp is not base64"));
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
    TsRespPtr resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(der->size())));
    TS_TST_INFO* info = resp ? TS_RESP_get_tst_info(resp.get()) : nullptr;
    const ASN1_GENERALIZEDTIME* gen = info ? TS_TST_INFO_get_time(info) : nullptr;
    struct tm tm = {};
    if (gen == nullptr || ASN1_TIME_to_tm(gen, &tm) != 1) {
      ERR_clear_error();
      return Fail("sigstore.timestamp", StrCat(where, ": not an RFC 3161 timestamp response"));
    }
    time_t when = timegm(&tm);
    if (X509_cmp_time(X509_get0_notBefore(leaf), &when) > 0 ||
        X509_cmp_time(X509_get0_notAfter(leaf), &when) < 0) {
      return Fail("sigstore.timestamp",
                  StrCat(where, ": time is outside the signing certificate's validity"));
    }
    bool ok = false;
    for (size_t a = 0; tsas != nullptr && a < tsas->size() && !ok; ++a) {
      const json::object* ao = (*tsas)[a].if_object();
      const json::object* cc = ao ? GetObject(*ao, "certChain") : nullptr;
      const json::array* certs = cc ? GetArray(*cc, "certificates") : nullptr;
      if (certs == nullptr || certs->empty() || !ValidAt(*ao, when)) continue;
      std::vector<X509Ptr> chain;
      for (const json::value& c : *certs) {
        const json::object* co = c.if_object();
        const json::string* raw = co ? GetString(*co, "rawBytes") : nullptr;
        std::optional<std::string> cder = raw ? Base64Decode(View(*raw)) : std::nullopt;
        X509Ptr x = cder ? ParseDerCertificate(*cder) : nullptr;
        if (x != nullptr) chain.push_back(std::move(x));
      }
      if (chain.empty()) continue;
      // The context owns what it is given.
      X509_STORE* store = X509_STORE_new();
      X509_STORE_add_cert(store, chain.back().get());
      X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), when);
      STACK_OF(X509)* untrusted = sk_X509_new_null();
      for (const X509Ptr& x : chain) {
        X509_up_ref(x.get());
        sk_X509_push(untrusted, x.get());
      }
      TsVerifyCtxPtr ctx(TS_VERIFY_CTX_new());
      TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA);
      TS_VERIFY_CTX_set_store(ctx.get(), store);
      TS_VERIFY_CTX_set_certs(ctx.get(), untrusted);
      TS_VERIFY_CTX_set_data(ctx.get(), BIO_new_mem_buf(sig.data(), static_cast<int>(sig.size())));
      ok = TS_RESP_verify_response(ctx.get(), resp.get()) == 1;
      ERR_clear_error();
    }
    if (!ok) {
      return Fail("sigstore.timestamp",
                  StrCat(where,
                         ": does not verify against a timestamp authority of the trust "
                         "root, over this signature"));
    }
  }
  return std::nullopt;
}

// Verifies the Sigstore material of a bundle: the Fulcio chain at the log's integrated time,
// the Rekor entry (SET, inclusion proof, checkpoint) and its binding to this envelope, and
// the signer identity. Returns the leaf key through `key`.
std::optional<VerifyResult> CheckSigstore(const json::object& material, std::string_view payload,
                                          std::string_view sig, const json::object& trusted_root,
                                          const VerifyOptions& options, PkeyPtr* key) {
  const json::object* cert_obj = GetObject(material, "certificate");
  const json::string* cert_raw = cert_obj ? GetString(*cert_obj, "rawBytes") : nullptr;
  std::optional<std::string> cert_der = cert_raw ? Base64Decode(View(*cert_raw)) : std::nullopt;
  X509Ptr leaf = cert_der ? ParseDerCertificate(*cert_der) : nullptr;
  if (leaf == nullptr)
    return Fail("bundle.schema", "certificate.rawBytes is not a DER certificate");
  const json::array& entries = *GetArray(material, "tlogEntries");
  const json::object* entry = entries[0].if_object();
  if (entry == nullptr) return Fail("bundle.schema", "tlogEntries[0] is not an object");

  // Log entry fields.
  const json::object* log_id = GetObject(*entry, "logId");
  const json::string* key_id_b64 = log_id ? GetString(*log_id, "keyId") : nullptr;
  std::optional<std::string> key_id = key_id_b64 ? Base64Decode(View(*key_id_b64)) : std::nullopt;
  std::optional<int64_t> log_index = ParseInt(*entry, "logIndex");
  std::optional<int64_t> integrated = ParseInt(*entry, "integratedTime");
  const json::string* body_b64 = GetString(*entry, "canonicalizedBody");
  std::optional<std::string> body = body_b64 ? Base64Decode(View(*body_b64)) : std::nullopt;
  const json::object* kv = GetObject(*entry, "kindVersion");
  const json::string* kind = kv ? GetString(*kv, "kind") : nullptr;
  if (!key_id || !log_index || !integrated || !body || kind == nullptr) {
    return Fail("bundle.schema",
                "tlogEntries[0] needs logId.keyId, logIndex, integratedTime, kindVersion and "
                "canonicalizedBody");
  }

  // The Rekor key for this log id, valid at the integrated time.
  PkeyPtr rekor;
  if (const json::array* tlogs = GetArray(trusted_root, "tlogs")) {
    for (const json::value& t : *tlogs) {
      const json::object* to = t.if_object();
      const json::object* tid = to ? GetObject(*to, "logId") : nullptr;
      const json::string* tkid = tid ? GetString(*tid, "keyId") : nullptr;
      const json::object* pk = to ? GetObject(*to, "publicKey") : nullptr;
      const json::string* raw = pk ? GetString(*pk, "rawBytes") : nullptr;
      if (tkid == nullptr || raw == nullptr || Base64Decode(View(*tkid)) != key_id) continue;
      if (!ValidAt(*pk, *integrated)) continue;
      std::optional<std::string> der = Base64Decode(View(*raw));
      if (!der) continue;
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
      rekor.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
      ERR_clear_error();
      if (rekor != nullptr) break;
    }
  }
  if (rekor == nullptr || DigestForKey(rekor.get()) == nullptr) {
    return Fail("sigstore.tlog", "no trusted ECDSA Rekor key for the entry's log id and time");
  }

  // SET: the log's promise over body, time, log id and index.
  const json::object* promise = GetObject(*entry, "inclusionPromise");
  const json::string* set_b64 = promise ? GetString(*promise, "signedEntryTimestamp") : nullptr;
  std::optional<std::string> set = set_b64 ? Base64Decode(View(*set_b64)) : std::nullopt;
  if (!set) return Fail("sigstore.tlog", "inclusionPromise.signedEntryTimestamp is missing");
  const std::string set_payload = StrCat(
      "{\"body\":\"", View(*body_b64), "\",\"integratedTime\":", *integrated, ",\"logID\":\"",
      ToHex(reinterpret_cast<const uint8_t*>(key_id->data()), key_id->size()),
      "\",\"logIndex\":", *log_index, "}");
  if (!VerifySignature(rekor.get(), DigestForKey(rekor.get()), set_payload, *set)) {
    return Fail("sigstore.tlog", "signedEntryTimestamp does not verify with the Rekor key");
  }

  // Inclusion proof up to the checkpoint's root, and the checkpoint's signature.
  const json::object* proof = GetObject(*entry, "inclusionProof");
  if (proof != nullptr) {
    std::optional<int64_t> pidx = ParseInt(*proof, "logIndex");
    std::optional<int64_t> psize = ParseInt(*proof, "treeSize");
    const json::string* root_b64 = GetString(*proof, "rootHash");
    const json::array* hashes = GetArray(*proof, "hashes");
    const json::object* cp = GetObject(*proof, "checkpoint");
    const json::string* note = cp ? GetString(*cp, "envelope") : nullptr;
    std::optional<std::string> root = root_b64 ? Base64Decode(View(*root_b64)) : std::nullopt;
    if (!pidx || !psize || !root || root->size() != 32 || hashes == nullptr || note == nullptr) {
      return Fail("bundle.schema", "inclusionProof is incomplete");
    }
    std::vector<Sha256Digest> path;
    for (const json::value& h : *hashes) {
      std::optional<std::string> d =
          h.is_string() ? Base64Decode(View(h.get_string())) : std::nullopt;
      if (!d || d->size() != 32) return Fail("bundle.schema", "inclusionProof.hashes: bad hash");
      Sha256Digest x{};
      std::memcpy(x.data(), d->data(), 32);
      path.push_back(x);
    }
    std::optional<Sha256Digest> computed =
        RootFromInclusionProof(static_cast<uint64_t>(*pidx), static_cast<uint64_t>(*psize),
                               Sha256(StrCat(std::string_view("\0", 1), *body)), path);
    if (!computed || std::memcmp(computed->data(), root->data(), 32) != 0) {
      return Fail("sigstore.tlog", "inclusion proof does not lead to rootHash");
    }
    // Note: "<origin>\n<size>\n<base64 root>\n[other lines]\n\n— <name> <base64 sig>\n".
    const std::string_view text = View(*note);
    const size_t blank = text.find("\n\n");
    if (blank == std::string_view::npos) return Fail("sigstore.tlog", "malformed checkpoint");
    const std::string_view signed_text = text.substr(0, blank + 1);
    const size_t l1 = signed_text.find('\n');
    const size_t l2 = signed_text.find('\n', l1 + 1);
    const size_t l3 = l2 == std::string_view::npos ? l2 : signed_text.find('\n', l2 + 1);
    if (l3 == std::string_view::npos || signed_text.substr(l1 + 1, l2 - l1 - 1) != StrCat(*psize) ||
        signed_text.substr(l2 + 1, l3 - l2 - 1) != View(*root_b64)) {
      return Fail("sigstore.tlog", "checkpoint does not match the proof's tree size and root");
    }
    bool checkpoint_ok = false;
    std::string_view sigs = text.substr(blank + 2);
    while (!sigs.empty() && !checkpoint_ok) {
      const size_t eol = sigs.find('\n');
      const std::string_view line = sigs.substr(0, eol);
      sigs = eol == std::string_view::npos ? std::string_view() : sigs.substr(eol + 1);
      const size_t sp = line.rfind(' ');
      if (line.substr(0, 4) != "\xE2\x80\x94 " || sp == std::string_view::npos) continue;
      std::optional<std::string> raw = Base64Decode(line.substr(sp + 1));
      if (!raw || raw->size() < 5) continue;
      checkpoint_ok = VerifySignature(rekor.get(), DigestForKey(rekor.get()), signed_text,
                                      std::string_view(*raw).substr(4));
    }
    if (!checkpoint_ok) {
      return Fail("sigstore.tlog", "checkpoint signature does not verify with the Rekor key");
    }
  }

  // The entry must be this envelope: payload hash, signature and verifier certificate.
  std::optional<json::value> body_json = ParseJson(*body);
  const json::object* bo = body_json ? body_json->if_object() : nullptr;
  const json::object* spec = bo ? GetObject(*bo, "spec") : nullptr;
  if (View(*kind) != "dsse" || spec == nullptr) {
    return Fail("sigstore.tlog", "only Rekor dsse entries are supported");
  }
  const json::object* ph = GetObject(*spec, "payloadHash");
  const json::string* ph_value = ph ? GetString(*ph, "value") : nullptr;
  const json::array* esigs = GetArray(*spec, "signatures");
  if (ph_value == nullptr || View(*ph_value) != ToHex(Sha256(payload)) || esigs == nullptr ||
      esigs->size() != 1 || !(*esigs)[0].is_object()) {
    return Fail("sigstore.binding", "the log entry does not record this payload");
  }
  const json::string* esig = GetString((*esigs)[0].get_object(), "signature");
  const json::string* verifier = GetString((*esigs)[0].get_object(), "verifier");
  std::optional<std::string> esig_raw = esig ? Base64Decode(View(*esig)) : std::nullopt;
  std::optional<std::string> verifier_pem = verifier ? Base64Decode(View(*verifier)) : std::nullopt;
  std::vector<X509Ptr> vcerts =
      verifier_pem ? ParsePemCertificates(*verifier_pem) : std::vector<X509Ptr>();
  if (!esig_raw || *esig_raw != sig || vcerts.size() != 1 ||
      X509_cmp(vcerts[0].get(), leaf.get()) != 0) {
    return Fail("sigstore.binding",
                "the log entry's signature or certificate is not this bundle's");
  }

  // Fulcio chain at the integrated time.
  bool chained = false;
  std::string chain_error = "no certificate authority valid at the integrated time";
  if (const json::array* cas = GetArray(trusted_root, "certificateAuthorities")) {
    for (const json::value& ca : *cas) {
      const json::object* cao = ca.if_object();
      if (cao == nullptr || !ValidAt(*cao, *integrated)) continue;
      const json::object* cc = GetObject(*cao, "certChain");
      const json::array* certs = cc ? GetArray(*cc, "certificates") : nullptr;
      if (certs == nullptr || certs->empty()) continue;
      std::vector<X509Ptr> chain;
      for (const json::value& c : *certs) {
        const json::object* co = c.if_object();
        const json::string* raw = co ? GetString(*co, "rawBytes") : nullptr;
        std::optional<std::string> der = raw ? Base64Decode(View(*raw)) : std::nullopt;
        X509Ptr x = der ? ParseDerCertificate(*der) : nullptr;
        if (x != nullptr) chain.push_back(std::move(x));
      }
      if (chain.empty()) continue;
      StorePtr store(X509_STORE_new());
      X509_STORE_add_cert(store.get(), chain.back().get());
      X509StackPtr untrusted(sk_X509_new_null());
      for (size_t i = 0; i + 1 < chain.size(); ++i) {
        X509_up_ref(chain[i].get());
        sk_X509_push(untrusted.get(), chain[i].get());
      }
      StoreCtxPtr ctx(X509_STORE_CTX_new());
      if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) continue;
      X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                                 static_cast<time_t>(*integrated));
      if (X509_verify_cert(ctx.get()) == 1) {
        chained = true;
        break;
      }
      chain_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
      ERR_clear_error();
    }
  }
  if (!chained) {
    return Fail("certificate.chain", StrCat("Fulcio certificate does not chain to the trusted "
                                            "root at the integrated time: ",
                                            chain_error));
  }

  // Identity and issuer.
  if (!SanMatches(leaf.get(), options.identity)) {
    return Fail("sigstore.identity", "the certificate's identity is not the expected one");
  }
  std::optional<std::string> issuer = FulcioExtension(leaf.get(), "1.3.6.1.4.1.57264.1.8", true);
  if (!issuer) issuer = FulcioExtension(leaf.get(), "1.3.6.1.4.1.57264.1.1", false);
  if (!issuer || *issuer != options.issuer) {
    return Fail("sigstore.issuer", "the certificate's OIDC issuer is not the expected one");
  }
  if (auto f = CheckTimestamps(material, sig, trusted_root, leaf.get())) return f;
  key->reset(X509_get_pubkey(leaf.get()));
  if (*key == nullptr || DigestForKey(key->get()) == nullptr) {
    return Fail("certificate.usage", "Fulcio certificate key is not EC P-256, P-384 or P-521");
  }
  return std::nullopt;
}

}  // namespace

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kKey:
      return "key";
    case Method::kCertificate:
      return "certificate";
    case Method::kSigstore:
      return "sigstore";
  }
  return "unknown";
}

std::optional<Method> ParseMethod(std::string_view name) {
  if (name == "key") return Method::kKey;
  if (name == "certificate") return Method::kCertificate;
  if (name == "sigstore") return Method::kSigstore;
  return std::nullopt;
}

std::string Pae(std::string_view payload_type, std::string_view payload) {
  return StrCat("DSSEv1 ", payload_type.size(), " ", payload_type, " ", payload.size(), " ",
                payload);
}

std::string LegacyPae(std::string_view payload_type, std::string_view payload) {
  // Python's bytes.__repr__: single quotes unless the bytes hold ' and no ".
  const bool has_single = payload.find('\'') != std::string_view::npos;
  const bool has_double = payload.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string repr = StrCat("b", std::string_view(&quote, 1));
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : payload) {
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      repr.push_back('\\');
      repr.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      repr += "\\t";
    } else if (c == '\n') {
      repr += "\\n";
    } else if (c == '\r') {
      repr += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      repr += "\\x";
      repr.push_back(kHex[c >> 4]);
      repr.push_back(kHex[c & 15]);
    } else {
      repr.push_back(static_cast<char>(c));
    }
  }
  repr.push_back(quote);
  return StrCat("DSSEV1 ", payload_type.size(), " ", payload_type, " ", payload.size(), " ", repr);
}

std::optional<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = val(c);
      if (v[j] < 0) return std::nullopt;
    }
    // Canonical form only: the bits the padding drops must be zero (no malleable encodings).
    if ((pad == 1 && (v[2] & 3) != 0) || (pad == 2 && (v[1] & 15) != 0)) return std::nullopt;
    const uint32_t n = static_cast<uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>(n >> 8 & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

std::string Base64Encode(std::string_view in) { return rampart::Base64Encode(in); }

absl::StatusOr<std::string> KeyHint(std::string_view public_key_pem) {
  absl::StatusOr<PkeyPtr> key = ParsePublicKey(public_key_pem);
  if (!key.ok()) return key.status();
  return ToHex(Sha256(CanonicalPublicPem(key->get())));
}

absl::StatusOr<KeyPair> GenerateKeyPair(std::string_view curve) {
  const char* group = curve == "P-256"   ? "P-256"
                      : curve == "P-384" ? "P-384"
                      : curve == "P-521" ? "P-521"
                                         : nullptr;
  if (group == nullptr) {
    return absl::InvalidArgumentError(StrCat("curve must be P-256, P-384 or P-521, got ", curve));
  }
  PkeyPtr key(EVP_EC_gen(group));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InternalError("EC key generation failed");
  }
  KeyPair out;
  BioPtr priv(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("cannot encode the private key");
  }
  out.private_key_pem = BioContents(priv.get());
  out.public_key_pem = CanonicalPublicPem(key.get());
  return out;
}

absl::StatusOr<VerifyResult> Verify(std::string_view bundle_json, const std::string& model_path,
                                    const VerifyOptions& options) {
  // Inputs the caller vouches for come first: a bad key is a usage error, not a verdict.
  PkeyPtr key;
  std::vector<X509Ptr> anchors;
  std::optional<json::value> trusted_root;
  if (options.method == Method::kKey) {
    absl::StatusOr<PkeyPtr> k = ParsePublicKey(options.public_key_pem);
    if (!k.ok()) return k.status();
    key = *std::move(k);
  } else if (options.method == Method::kCertificate) {
    for (const std::string& pem : options.trust_roots_pem) {
      std::vector<X509Ptr> certs = ParsePemCertificates(pem);
      if (certs.empty()) return absl::InvalidArgumentError("trust root holds no PEM certificate");
      for (X509Ptr& c : certs) anchors.push_back(std::move(c));
    }
    if (anchors.empty()) return absl::InvalidArgumentError("no trust roots given");
  } else {
    trusted_root = ParseJson(options.trusted_root_json);
    if (!trusted_root || !trusted_root->is_object()) {
      return absl::InvalidArgumentError("trusted root is not a JSON object");
    }
    if (options.identity.empty() || options.issuer.empty()) {
      return absl::InvalidArgumentError("sigstore verification needs an identity and an issuer");
    }
  }

  if (bundle_json.size() > kMaxBundleBytes) {
    return Fail("bundle.json", StrCat("bundle is larger than ", kMaxBundleBytes, " bytes"));
  }
  std::optional<json::value> doc = ParseJson(bundle_json);
  if (!doc) return Fail("bundle.json", "bundle is not valid JSON");
  if (!doc->is_object()) return Fail("bundle.schema", "bundle is not a JSON object");
  const json::object& bundle = doc->get_object();
  const json::string* media = GetString(bundle, "mediaType");
  const json::object* material = GetObject(bundle, "verificationMaterial");
  const json::object* envelope = GetObject(bundle, "dsseEnvelope");
  if (media == nullptr) return Fail("bundle.schema", "mediaType is missing");
  if (material == nullptr) return Fail("bundle.schema", "verificationMaterial is missing");
  if (envelope == nullptr) return Fail("bundle.schema", "dsseEnvelope is missing");
  if (!IsBundleMediaType(View(*media))) {
    return Fail("bundle.media_type", "mediaType is not a Sigstore bundle type");
  }
  const json::string* payload_b64 = GetString(*envelope, "payload");
  const json::string* payload_type = GetString(*envelope, "payloadType");
  const json::array* signatures = GetArray(*envelope, "signatures");
  if (payload_b64 == nullptr || payload_type == nullptr || signatures == nullptr) {
    return Fail("bundle.schema", "dsseEnvelope needs payload, payloadType and signatures");
  }
  if (signatures->size() != 1) {
    return Fail("bundle.schema",
                StrCat("dsseEnvelope must hold exactly one signature, has ", signatures->size()));
  }
  const json::object* sig_obj = (*signatures)[0].if_object();
  const json::string* sig_b64 = sig_obj ? GetString(*sig_obj, "sig") : nullptr;
  if (sig_b64 == nullptr) return Fail("bundle.schema", "signatures[0].sig is missing");
  std::optional<std::string> payload = Base64Decode(View(*payload_b64));
  std::optional<std::string> sig = Base64Decode(View(*sig_b64));
  if (!payload) return Fail("bundle.schema", "dsseEnvelope.payload is not base64");
  if (!sig) return Fail("bundle.schema", "signatures[0].sig is not base64");

  // Material must match the method; the schema's anyOf cannot enforce this.
  const json::object* public_key = GetObject(*material, "publicKey");
  const json::object* chain = GetObject(*material, "x509CertificateChain");
  const bool has_certificate = material->contains("certificate");
  const json::array* tlog = GetArray(*material, "tlogEntries");
  const size_t tlog_entries = tlog ? tlog->size() : 0;
  switch (options.method) {
    case Method::kKey:
      if (public_key == nullptr || chain != nullptr || has_certificate) {
        return Fail("bundle.material",
                    "method key needs verificationMaterial.publicKey and no certificate");
      }
      break;
    case Method::kCertificate:
      if (chain == nullptr || has_certificate || public_key != nullptr) {
        return Fail("bundle.material",
                    "method certificate needs verificationMaterial.x509CertificateChain");
      }
      break;
    case Method::kSigstore:
      if (!has_certificate || tlog_entries == 0) {
        return Fail("bundle.material",
                    "method sigstore needs verificationMaterial.certificate and tlogEntries");
      }
      break;
  }

  if (options.method == Method::kKey) {
    if (const json::string* hint = GetString(*public_key, "hint"); hint && !hint->empty()) {
      const std::string expected = ToHex(Sha256(CanonicalPublicPem(key.get())));
      if (View(*hint) != expected) {
        return Fail("key.hint", "publicKey.hint does not match the supplied public key");
      }
    }
  } else if (options.method == Method::kCertificate) {
    if (auto f = CheckCertificateChain(*chain, anchors, &key)) return *f;
  } else {
    if (auto f =
            CheckSigstore(*material, *payload, *sig, trusted_root->get_object(), options, &key)) {
      return *f;
    }
  }

  const EVP_MD* md = DigestForKey(key.get());
  const bool signature_ok =
      VerifySignature(key.get(), md, Pae(View(*payload_type), *payload), *sig) ||
      VerifySignature(key.get(), EVP_sha256(), LegacyPae(View(*payload_type), *payload), *sig);
  if (!signature_ok) {
    return Fail("dsse.signature", "DSSE signature does not verify with the key");
  }
  if (View(*payload_type) != kInTotoPayloadType) {
    return Fail("statement.schema", StrCat("payloadType must be ", kInTotoPayloadType));
  }
  Statement statement;
  if (auto f = ParseStatement(*payload, &statement)) return *f;
  return CheckModel(model_path, statement, options);
}

absl::StatusOr<std::string> Sign(const std::string& model_path, const SignOptions& options) {
  absl::StatusOr<PkeyPtr> key = ParsePrivateKey(options.private_key_pem);
  if (!key.ok()) return key.status();

  std::vector<X509Ptr> chain;
  if (!options.certificate_chain_pem.empty()) {
    chain = ParsePemCertificates(options.certificate_chain_pem);
    if (chain.empty()) return absl::InvalidArgumentError("certificate chain holds no PEM");
    if (X509_check_private_key(chain[0].get(), key->get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          "the first certificate of the chain does not match the private key");
    }
  }

  std::error_code ec;
  const fs::file_status status = fs::status(model_path, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(StrCat(model_path, ": no such file or directory"));
  }
  std::vector<std::string> ignore = {".gitattributes", ".github", ".gitignore", ".git"};
  for (const std::string& p : options.ignore_paths) ignore.push_back(p);
  std::vector<FileDigest> digests;
  std::string subject_name;
  if (fs::is_regular_file(status)) {
    absl::StatusOr<FileDigest> d = HashFile(model_path);
    if (!d.ok()) return d.status();
    subject_name = fs::path(model_path).filename().string();
    d->path = subject_name;
    digests.push_back(*std::move(d));
  } else {
    if (!options.bundle_path.empty()) {
      const fs::path root = fs::weakly_canonical(model_path, ec);
      const fs::path rel = fs::weakly_canonical(options.bundle_path, ec).lexically_relative(root);
      if (!ec && !rel.empty() && *rel.begin() != "..") ignore.push_back(rel.generic_string());
    }
    ListOptions list;
    list.ignore_paths = ignore;
    absl::StatusOr<std::vector<std::string>> files = ListModelFiles(model_path, list);
    if (!files.ok()) return files.status();
    if (files->empty()) return absl::InvalidArgumentError(StrCat(model_path, ": no files to sign"));
    absl::StatusOr<std::vector<FileDigest>> d = HashFiles(model_path, *files, options.threads);
    if (!d.ok()) return d.status();
    digests = *std::move(d);
    subject_name = fs::weakly_canonical(model_path, ec).filename().string();
  }

  json::array resources;
  std::string concat;
  for (const FileDigest& d : digests) {
    resources.push_back(
        json::object{{"name", d.path}, {"algorithm", "sha256"}, {"digest", ToHex(d.sha256)}});
    concat.append(reinterpret_cast<const char*>(d.sha256.data()), d.sha256.size());
  }
  json::array ignore_json;
  for (const std::string& p : ignore) ignore_json.emplace_back(p);
  json::object statement{
      {"_type", kStatementType},
      {"subject",
       json::array{json::object{{"name", subject_name},
                                {"digest", json::object{{"sha256", ToHex(Sha256(concat))}}}}}},
      {"predicateType", kPredicateType},
      {"predicate",
       json::object{{"serialization", json::object{{"method", "files"},
                                                   {"hash_type", "sha256"},
                                                   {"allow_symlinks", false},
                                                   {"ignore_paths", std::move(ignore_json)}}},
                    {"resources", std::move(resources)}}}};
  const std::string payload = json::serialize(statement);
  absl::StatusOr<std::string> sig = SignMessage(key->get(), Pae(kInTotoPayloadType, payload));
  if (!sig.ok()) return sig.status();

  json::object material;
  if (chain.empty()) {
    material["publicKey"] = json::object{{"hint", ToHex(Sha256(CanonicalPublicPem(key->get())))}};
  } else {
    json::array certs;
    for (const X509Ptr& c : chain) {
      certs.push_back(json::object{{"rawBytes", Base64Encode(CertificateDer(c.get()))}});
    }
    material["x509CertificateChain"] = json::object{{"certificates", std::move(certs)}};
  }
  material["tlogEntries"] = json::array();
  json::object bundle{
      {"mediaType", kBundleMediaType},
      {"verificationMaterial", std::move(material)},
      {"dsseEnvelope",
       json::object{
           {"payload", Base64Encode(payload)},
           {"payloadType", kInTotoPayloadType},
           {"signatures", json::array{json::object{{"sig", Base64Encode(*sig)}, {"keyid", ""}}}}}}};
  return StrCat(json::serialize(bundle), "\n");
}

}  // namespace rampart::supply::oms
