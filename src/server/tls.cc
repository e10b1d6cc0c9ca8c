#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "common/strings.h"
#include "config/field_reader.h"

namespace rampart::server {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

// The oldest error OpenSSL queued on this thread, in words; clears the queue.
std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  std::string out;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    const char* reason = ERR_reason_error_string(e);
    out = reason != nullptr ? reason : buf;
  }
  ERR_clear_error();
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::StatusOr<std::shared_ptr<ssl::context>> ListenerContext(const config::ListenerTls& t) {
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* h = ctx->native_handle();
  SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_DH_USE);
  int min = t.min_version == config::TlsVersion::k13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(h, min) != 1) {
    return config::FieldError("server.tls.min_version", OpenSslError());
  }
  if (!t.ciphers.empty() && SSL_CTX_set_cipher_list(h, t.ciphers.c_str()) != 1) {
    return config::FieldError("server.tls.ciphers",
                              StrCat("no usable cipher in '", t.ciphers, "': ", OpenSslError()));
  }
  if (SSL_CTX_use_certificate_chain_file(h, t.cert_file.c_str()) != 1) {
    return config::FieldError(
        "server.tls.cert_file",
        StrCat("cannot load a PEM certificate chain from '", t.cert_file, "': ", OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(h, t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return config::FieldError("server.tls.key_file",
                                StrCat("does not match the certificate in '", t.cert_file, "'"));
    }
    return config::FieldError("server.tls.key_file", StrCat("cannot load a PEM private key from '",
                                                            t.key_file, "': ", OpenSslError()));
  }
  if (SSL_CTX_check_private_key(h) != 1) {
    return config::FieldError("server.tls.key_file", StrCat("does not match the certificate in '",
                                                            t.cert_file, "': ", OpenSslError()));
  }
  return ctx;
}

absl::StatusOr<std::shared_ptr<ssl::context>> UpstreamContext(const config::UpstreamConfig& u,
                                                              const std::string& path) {
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* h = ctx->native_handle();
  SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION);
  if (u.tls_insecure_skip_verify) {
    SSL_CTX_set_verify(h, SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_verify(h, SSL_VERIFY_PEER, nullptr);
  if (!u.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(h, u.ca_file.c_str(), nullptr) != 1) {
      return config::FieldError(
          StrCat(path, ".ca_file"),
          StrCat("cannot load PEM certificates from '", u.ca_file, "': ", OpenSslError()));
    }
  } else if (SSL_CTX_set_default_verify_paths(h) != 1) {
    return config::FieldError(StrCat(path, ".url"),
                              StrCat("cannot load the system trust store: ", OpenSslError()));
  }
  return ctx;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TlsContexts>> TlsContexts::Build(const config::Config& c) {
  auto t = std::make_shared<TlsContexts>();
  if (c.server.tls.enabled) {
    auto l = ListenerContext(c.server.tls);
    if (!l.ok()) return l.status();
    t->listener_ = std::move(*l);
  }
  for (size_t i = 0; i < c.upstreams.size(); ++i) {
    const auto& u = c.upstreams[i];
    if (!u.tls) continue;
    auto ctx = UpstreamContext(u, StrCat("upstreams[", i, "]"));
    if (!ctx.ok()) return ctx.status();
    t->upstreams_[u.name] = std::move(*ctx);
  }
  return std::shared_ptr<const TlsContexts>(std::move(t));
}

ssl::context* TlsContexts::upstream(const std::string& name) const {
  auto it = upstreams_.find(name);
  return it == upstreams_.end() ? nullptr : it->second.get();
}

absl::Status PrepareUpstreamTls(SSL* ssl, const std::string& host, bool verify) {
  ERR_clear_error();
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  bool is_ip = !ec;
  if (!is_ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return absl::InternalError(StrCat("cannot set SNI '", host, "': ", OpenSslError()));
  }
  if (!verify) return absl::OkStatus();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                 : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) {
    return absl::InternalError(StrCat("cannot set the name to verify '", host, "'"));
  }
  return absl::OkStatus();
}

std::string UpstreamTlsFailure(SSL* ssl, const boost::system::error_code& ec, bool* verify_failed) {
  long vr = SSL_get_verify_result(ssl);
  *verify_failed = false;
  if (vr != X509_V_OK && ec.category() == asio::error::get_ssl_category()) {
    *verify_failed = true;
    return StrCat("certificate verify failed: ", X509_verify_cert_error_string(vr));
  }
  return ec.message();
}

bool IsPlainHttpOnTls(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

}  // namespace rampart::server
