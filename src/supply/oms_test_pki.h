// Test-only helpers: a throwaway PKI minted with OpenSSL (a CA and leaves it signs) and
// temporary directories. Used by the signing tests; never linked into the product.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace rampart::supply::testing {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rampart-oms-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct TestCert {
  EVP_PKEY* key = nullptr;  // owned
  X509* cert = nullptr;     // owned
  TestCert() = default;
  TestCert(const TestCert&) = delete;
  TestCert& operator=(const TestCert&) = delete;
  ~TestCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  std::string CertPem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, cert);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string out(p, static_cast<size_t>(n));
    BIO_free(b);
    return out;
  }
  std::string KeyPem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string out(p, static_cast<size_t>(n));
    BIO_free(b);
    return out;
  }
};

inline void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// Mints a certificate for a new EC P-256 key. `issuer` null = self-signed CA. Validity:
// [now + not_before_s, now + not_after_s].
inline void MintCert(TestCert* out, const char* cn, const TestCert* issuer, bool ca,
                     long not_before_s = -3600, long not_after_s = 86400 * 365) {
  out->key = EVP_EC_gen("P-256");
  out->cert = X509_new();
  X509_set_version(out->cert, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(out->cert), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(out->cert), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(out->cert), not_after_s);
  X509_set_pubkey(out->cert, out->key);
  X509_NAME* name = X509_get_subject_name(out->cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert : out->cert;
  X509_set_issuer_name(out->cert, X509_get_subject_name(issuer_cert));
  AddExt(out->cert, issuer_cert, NID_subject_key_identifier, "hash");
  AddExt(out->cert, issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    AddExt(out->cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(out->cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(out->cert, issuer_cert, NID_key_usage, "critical,digitalSignature");
    AddExt(out->cert, issuer_cert, NID_ext_key_usage, "codeSigning");
  }
  X509_sign(out->cert, issuer != nullptr ? issuer->key : out->key, EVP_sha256());
}

}  // namespace rampart::supply::testing
