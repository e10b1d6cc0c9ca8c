#include "common/strings.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace rampart {
namespace {

TEST(StrCatTest, AppendsTextAndNumbers) {
  const std::string s = "str";
  const char* cs = "cstr";
  std::string_view sv = "view";
  EXPECT_EQ(StrCat(s, "-", cs, "-", sv, '-', 'c'), "str-cstr-view-c");
  EXPECT_EQ(StrCat(0, " ", -7, " ", std::numeric_limits<int64_t>::min(), " ",
                   std::numeric_limits<uint64_t>::max()),
            "0 -7 -9223372036854775808 18446744073709551615");
  EXPECT_EQ(StrCat(true, " ", false), "true false");
  EXPECT_EQ(StrCat(1.5, " ", static_cast<unsigned char>(65)), "1.5 65");
  EXPECT_EQ(StrCat(absl::string_view("absl")), "absl");
  const char* null = nullptr;
  EXPECT_EQ(StrCat("a", null, "b"), "ab");
  EXPECT_EQ(StrCat(), "");
}

TEST(StrCatTest, StrAppendKeepsWhatIsThere) {
  std::string out = "x=";
  StrAppend(&out, 42, ",y=", std::string("z"));
  EXPECT_EQ(out, "x=42,y=z");
}

}  // namespace
}  // namespace rampart
