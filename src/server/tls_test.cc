#include "server/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tls_test_util.h"

namespace rampart::server {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class TlsContextsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rampart-tls-unit-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    auto ca = testing::MakeCert("CA", nullptr);
    auto leaf = testing::MakeCert("leaf", &ca, "DNS:localhost");
    auto other = testing::MakeCert("other", &ca, "DNS:localhost");
    ASSERT_TRUE(testing::WritePem(ca, P("ca.pem")));
    ASSERT_TRUE(testing::WritePem(leaf, P("leaf.crt"), P("leaf.key")));
    ASSERT_TRUE(testing::WritePem(other, P("other.crt"), P("other.key")));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) { return (dir_ / name).string(); }

  // Builds the contexts of a config with this listener and these upstreams.
  std::string Build(const config::ListenerTls& tls,
                    const std::vector<config::UpstreamConfig>& ups = {}) {
    config::Config c;
    c.server.tls = tls;
    c.upstreams = ups;
    auto t = TlsContexts::Build(c);
    if (!t.ok()) return std::string(t.status().message());
    built_ = *t;
    return "ok";
  }
  config::ListenerTls Listener(const std::string& cert, const std::string& key) {
    config::ListenerTls t;
    t.enabled = true;
    t.cert_file = P(cert);
    t.key_file = P(key);
    return t;
  }
  static config::UpstreamConfig Https(const std::string& name, const std::string& ca = "",
                                      bool insecure = false) {
    config::UpstreamConfig u;
    u.name = name;
    u.tls = true;
    u.ca_file = ca;
    u.tls_insecure_skip_verify = insecure;
    return u;
  }

  fs::path dir_;
  std::shared_ptr<const TlsContexts> built_;
};

TEST_F(TlsContextsTest, PlainConfigHasNoContexts) {
  ASSERT_EQ(Build(config::ListenerTls{}), "ok");
  EXPECT_EQ(built_->listener(), nullptr);
  config::UpstreamConfig plain;
  plain.name = "p";
  ASSERT_EQ(Build(config::ListenerTls{}, {plain}), "ok");
  EXPECT_EQ(built_->upstream("p"), nullptr);
}

TEST_F(TlsContextsTest, ListenerAndUpstreamContexts) {
  ASSERT_EQ(Build(Listener("leaf.crt", "leaf.key"),
                  {Https("a", P("ca.pem")), Https("b"), Https("c", "", true)}),
            "ok");
  ASSERT_NE(built_->listener(), nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(built_->listener()->native_handle()), TLS1_2_VERSION);
  for (const char* n : {"a", "b"}) {
    ASSERT_NE(built_->upstream(n), nullptr) << n;
    EXPECT_EQ(SSL_CTX_get_verify_mode(built_->upstream(n)->native_handle()), SSL_VERIFY_PEER);
  }
  EXPECT_EQ(SSL_CTX_get_verify_mode(built_->upstream("c")->native_handle()), SSL_VERIFY_NONE);
  auto t13 = Listener("leaf.crt", "leaf.key");
  t13.min_version = config::TlsVersion::k13;
  ASSERT_EQ(Build(t13), "ok");
  EXPECT_EQ(SSL_CTX_get_min_proto_version(built_->listener()->native_handle()), TLS1_3_VERSION);
}

TEST_F(TlsContextsTest, ErrorsNameTheField) {
  EXPECT_THAT(Build(Listener("missing.crt", "leaf.key")),
              HasSubstr("server.tls.cert_file: cannot load a PEM certificate chain from '"));
  EXPECT_THAT(Build(Listener("leaf.crt", "missing.key")),
              HasSubstr("server.tls.key_file: cannot load a PEM private key"));
  EXPECT_THAT(Build(Listener("leaf.crt", "other.key")),
              HasSubstr("server.tls.key_file: does not match the certificate"));
  auto bad_ciphers = Listener("leaf.crt", "leaf.key");
  bad_ciphers.ciphers = "NOT-A-CIPHER";
  EXPECT_THAT(Build(bad_ciphers), HasSubstr("server.tls.ciphers: no usable cipher"));
  EXPECT_THAT(Build(config::ListenerTls{}, {Https("a"), Https("b", P("missing.pem"))}),
              HasSubstr("upstreams[1].ca_file: cannot load PEM certificates from '"));
}

TEST(TlsHelpersTest, PrepareUpstreamTlsSetsSniOnlyForNames) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* named = SSL_new(ctx);
  ASSERT_TRUE(PrepareUpstreamTls(named, "api.example.com", true).ok());
  EXPECT_STREQ(SSL_get_servername(named, TLSEXT_NAMETYPE_host_name), "api.example.com");
  EXPECT_STREQ(X509_VERIFY_PARAM_get0_host(SSL_get0_param(named), 0), "api.example.com");
  SSL* ip = SSL_new(ctx);
  ASSERT_TRUE(PrepareUpstreamTls(ip, "10.1.2.3", true).ok());
  EXPECT_EQ(SSL_get_servername(ip, TLSEXT_NAMETYPE_host_name), nullptr);
  SSL_free(named);
  SSL_free(ip);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace rampart::server
