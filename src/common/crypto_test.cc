#include "common/crypto.h"

#include <gtest/gtest.h>

namespace rampart {
namespace {

// Vectors from FIPS 180-2 and RFC 4231.
TEST(Crypto, Sha256KnownAnswer) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, HmacDependsOnKey) { EXPECT_NE(HmacSha256("k1", "data"), HmacSha256("k2", "data")); }

}  // namespace
}  // namespace rampart
