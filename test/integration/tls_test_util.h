// TLS helpers for the integration tests, on OpenSSL's C API (no `openssl` binary needed):
// a throwaway CA and leaf certificates written as PEM files, and a small blocking HTTPS
// client with timeouts that verifies the server against a chosen CA.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "process.h"

namespace rampart::testing {

struct KeyAndCert {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
};

inline bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A P-256 key and a certificate for `common_name`, valid from an hour ago for a day. Signed
// by `issuer` (nullptr: self-signed CA). `san` is an X.509 subjectAltName value such as
// "DNS:localhost,IP:127.0.0.1" (leaf only).
inline KeyAndCert MakeCert(const std::string& common_name, const KeyAndCert* issuer,
                           const std::string& san = "", long serial = 1) {
  KeyAndCert out;
  out.key.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
  out.cert.reset(X509_new(), X509_free);
  X509* c = out.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  X509_set_pubkey(c, out.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
  if (issuer == nullptr) {
    AddExt(c, c, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExt(c, c, NID_subject_key_identifier, "hash");
  } else {
    AddExt(c, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(c, issuer_cert, NID_key_usage, "critical,digitalSignature");
    AddExt(c, issuer_cert, NID_ext_key_usage, "serverAuth");
    if (!san.empty()) AddExt(c, issuer_cert, NID_subject_alt_name, san.c_str());
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : out.key.get();
  X509_sign(c, signer, EVP_sha256());
  return out;
}

inline bool WritePem(const KeyAndCert& kc, const std::string& cert_path,
                     const std::string& key_path = "") {
  FILE* f = std::fopen(cert_path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = PEM_write_X509(f, kc.cert.get()) == 1;
  std::fclose(f);
  if (!ok || key_path.empty()) return ok;
  f = std::fopen(key_path.c_str(), "w");
  if (f == nullptr) return false;
  ok = PEM_write_PrivateKey(f, kc.key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  return ok;
}

// One HTTPS exchange (or just a handshake) with a loopback port, blocking, with timeouts.
class TlsClient {
 public:
  // Verifies the server against `ca_file` and `host` (a name, or an IP address).
  TlsClient(int port, const std::string& ca_file, const std::string& host = "127.0.0.1",
            int timeout_ms = 10000) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    in_addr ip{};
    if (inet_pton(AF_INET, host.c_str(), &ip) == 1) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, host.c_str());
      SSL_set1_host(ssl_, host.c_str());
    }
    ERR_clear_error();
    handshake_ok_ = SSL_connect(ssl_) == 1;
    if (!handshake_ok_) {
      long vr = SSL_get_verify_result(ssl_);
      error_ = vr != X509_V_OK ? X509_verify_cert_error_string(vr)
               : ERR_reason_error_string(ERR_peek_last_error()) != nullptr
                   ? ERR_reason_error_string(ERR_peek_last_error())
                   : "handshake failed";
    }
  }
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool handshake_ok() const { return handshake_ok_; }
  const std::string& error() const { return error_; }
  std::string version() const { return ssl_ != nullptr ? SSL_get_version(ssl_) : ""; }
  // The serial number of the certificate the server presented (-1: none).
  long PeerSerial() const {
    if (!handshake_ok_) return -1;
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (peer == nullptr) return -1;
    long serial = ASN1_INTEGER_get(X509_get_serialNumber(peer));
    X509_free(peer);
    return serial;
  }

  bool Send(const std::string& s) {
    return handshake_ok_ &&
           SSL_write(ssl_, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size());
  }
  // Reads until the server closes (the requests say Connection: close) or the timeout.
  std::string ReadAll(size_t max = 1 << 24) {
    std::string out;
    char buf[8192];
    while (handshake_ok_ && out.size() < max) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  Response Request(const std::string& method, const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers = {}) {
    std::string req =
        method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST") {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    req += "\r\n" + body;
    if (!Send(req)) return {};
    return ParseResponse(ReadAll());
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool handshake_ok_ = false;
  std::string error_;
};

}  // namespace rampart::testing
