#include "detectors/validators.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace rampart::detectors {
namespace {

// Runs validator `name` on the first occurrence of `candidate` in `text`. On success returns
// the (possibly narrowed) span's text; on rejection returns "<rejected>".
std::string Check(std::string_view name, std::string_view text, std::string_view candidate,
                  double min_entropy = 0.0) {
  ValidatorFn fn = FindValidator(name);
  EXPECT_NE(fn, nullptr) << name;
  if (fn == nullptr) return "<no validator>";
  size_t pos = text.find(candidate);
  EXPECT_NE(pos, std::string_view::npos) << candidate;
  if (pos == std::string_view::npos) return "<bad test>";
  uint32_t begin = static_cast<uint32_t>(pos);
  uint32_t end = static_cast<uint32_t>(pos + candidate.size());
  ValidatorArgs args{min_entropy};
  if (!fn(text, begin, end, args)) return "<rejected>";
  EXPECT_LE(begin, end);
  EXPECT_LE(end, text.size());
  return std::string(text.substr(begin, end - begin));
}

// The whole text is the candidate.
std::string Check(std::string_view name, std::string_view text) { return Check(name, text, text); }

constexpr std::string_view kRejected = "<rejected>";

TEST(Validators, RegistryKnowsEveryNameItLists) {
  for (std::string_view name : ValidatorNames()) {
    EXPECT_NE(FindValidator(name), nullptr) << name;
  }
  for (std::string_view name : {"luhn", "iban", "ssn", "phone", "ipv4", "ipv6", "email", "jwt",
                                "assignment", "private_key", "entropy", "dob"}) {
    EXPECT_NE(FindValidator(name), nullptr) << name;
  }
  EXPECT_EQ(FindValidator("nope"), nullptr);
  EXPECT_EQ(FindValidator(""), nullptr);
}

// ----------------------------------------------------------------------------- building blocks

TEST(LuhnValid, AcceptsKnownTestNumbers) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("5555555555554444"));
  EXPECT_TRUE(LuhnValid("378282246310005"));
  EXPECT_TRUE(LuhnValid("0"));
}

TEST(LuhnValid, RejectsWrongCheckDigitAndNonDigits) {
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid("378282246310006"));
  EXPECT_FALSE(LuhnValid(""));
  EXPECT_FALSE(LuhnValid("4111 1111 1111 1111"));
  EXPECT_FALSE(LuhnValid("41111111111a1111"));
}

TEST(IbanValid, AcceptsRegistryExamples) {
  EXPECT_TRUE(IbanValid("GB82WEST12345698765432"));
  EXPECT_TRUE(IbanValid("DE89370400440532013000"));
  EXPECT_TRUE(IbanValid("FR1420041010050500013M02606"));
  EXPECT_TRUE(IbanValid("NO9386011117947"));
  EXPECT_TRUE(IbanValid("CH9300762011623852957"));
}

TEST(IbanValid, RejectsChecksumLengthAndCountryErrors) {
  EXPECT_FALSE(IbanValid("GB82WEST12345698765433"));  // mod-97 fails
  EXPECT_FALSE(IbanValid("GB82WEST1234569876543"));   // GB is 22 long
  EXPECT_FALSE(IbanValid("DE8937040044053201300"));   // DE is 22 long
  EXPECT_FALSE(IbanValid("ZZ82WEST12345698765432"));  // no such country
  EXPECT_FALSE(IbanValid("gb82WEST12345698765432"));  // compact form is upper-case
  EXPECT_FALSE(IbanValid("GB82 WEST 1234 5698 7654 32"));
  EXPECT_FALSE(IbanValid(""));
}

TEST(ShannonEntropy, MeasuresBitsPerByte) {
  EXPECT_DOUBLE_EQ(ShannonEntropy(""), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abab"), 1.0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abcd"), 2.0);
  EXPECT_GT(ShannonEntropy("q8Lm3Vb7Xc2Nz9Rt4Yw1Pk6H"), 4.0);
}

TEST(LooksLikePlaceholder, RecognizesTemplatesAndFiller) {
  for (std::string_view v : {"",
                             "xxxx",
                             "XXXXXXXXXXXX",
                             "****",
                             "changeme",
                             "<token>",
                             "<your-api-key>",
                             "${VAR}",
                             "${DB_PASSWORD}",
                             "{{ secret }}",
                             "$API_KEY",
                             "%s",
                             "%(password)s",
                             "insert_key_here",
                             "a-fake-api-key",
                             "your_api_key_here",
                             "example-token-123",
                             "dummy_password",
                             "notapassword",
                             "real_secret",
                             "null",
                             "REDACTED",
                             "sk-xxxxxxxxxxxxxxxx"}) {
    EXPECT_TRUE(LooksLikePlaceholder(v)) << v;
  }
}

TEST(LooksLikePlaceholder, LeavesRealLookingValuesAlone) {
  for (std::string_view v :
       {"q8Lm3Vb7Xc2Nz9Rt4Yw1", "hunter2!Zq", "Tr0ub4dor&3",
        "m{{h}o)p${e]nob(ody[finds>-_$#thisone}}", "s3cr3tPa55w0rdThatIsLong"}) {
    EXPECT_FALSE(LooksLikePlaceholder(v)) << v;
  }
}

// ----------------------------------------------------------------------------- luhn

TEST(LuhnValidator, AcceptsCardsInTheirUsualForms) {
  EXPECT_EQ(Check("luhn", "card 4111111111111111 ok", "4111111111111111"), "4111111111111111");
  EXPECT_EQ(Check("luhn", "card 4111 1111 1111 1111.", "4111 1111 1111 1111"),
            "4111 1111 1111 1111");
  EXPECT_EQ(Check("luhn", "5555-5555-5555-4444"), "5555-5555-5555-4444");
  EXPECT_EQ(Check("luhn", "amex 378282246310005"), "<rejected>");  // candidate includes words
  EXPECT_EQ(Check("luhn", "amex 378282246310005", "378282246310005"), "378282246310005");
  // 12-digit Maestro.
  EXPECT_EQ(Check("luhn", "card 503890547220", "503890547220"), "503890547220");
}

TEST(LuhnValidator, TrimsSeparatorsThePatternSwallowed) {
  EXPECT_EQ(Check("luhn", "pay 4111 1111 1111 1111 now", "4111 1111 1111 1111 "),
            "4111 1111 1111 1111");
}

TEST(LuhnValidator, RejectsLookAlikes) {
  EXPECT_EQ(Check("luhn", "4111111111111112"), kRejected);     // checksum
  EXPECT_EQ(Check("luhn", "0000000000000000"), kRejected);     // all same digit
  EXPECT_EQ(Check("luhn", "123456789012"), kRejected);         // 12 digits, not Maestro
  EXPECT_EQ(Check("luhn", "41111111111"), kRejected);          // too short
  EXPECT_EQ(Check("luhn", "4111 1111-1111 1111"), kRejected);  // mixed separators
  EXPECT_EQ(Check("luhn", "41 11111111111111"), kRejected);    // not grouped by 4
  EXPECT_EQ(Check("luhn", "9111111111111110"), kRejected);     // no issuer starts with 9
}

TEST(LuhnValidator, RequiresDigitBoundaries) {
  EXPECT_EQ(Check("luhn", "x4111111111111111", "4111111111111111"), kRejected);
  EXPECT_EQ(Check("luhn", "94111111111111111", "4111111111111111"), kRejected);
  EXPECT_EQ(Check("luhn", "4111111111111111a", "4111111111111111"), kRejected);
  EXPECT_EQ(Check("luhn", "4111111111111111-42", "4111111111111111"), kRejected);
  EXPECT_EQ(Check("luhn", "+4111111111111111", "4111111111111111"), kRejected);
}

// ----------------------------------------------------------------------------- iban

TEST(IbanValidator, AcceptsCompactGroupedAndLowerCase) {
  EXPECT_EQ(Check("iban", "IBAN GB82WEST12345698765432.", "GB82WEST12345698765432"),
            "GB82WEST12345698765432");
  EXPECT_EQ(Check("iban", "GB82 WEST 1234 5698 7654 32"), "GB82 WEST 1234 5698 7654 32");
  EXPECT_EQ(Check("iban", "my iban is gb82west12345698765432", "gb82west12345698765432"),
            "gb82west12345698765432");
}

TEST(IbanValidator, RejectsLookAlikes) {
  EXPECT_EQ(Check("iban", "GB82 WEST 1234 5698 7654 33"), kRejected);  // checksum
  EXPECT_EQ(Check("iban", "GB82WEST12345698765432 for", "GB82WEST12345698765432 for"), kRejected);
  EXPECT_EQ(Check("iban", "Gb82West12345698765432"), kRejected);       // mixed case word
  EXPECT_EQ(Check("iban", "GB82 WE ST12 3456 9876 5432"), kRejected);  // not grouped by 4
  EXPECT_EQ(Check("iban", "XGB82WEST12345698765432", "GB82WEST12345698765432"), kRejected);
}

// ----------------------------------------------------------------------------- ssn

TEST(SsnValidator, AcceptsDashedNumbersAnywhere) {
  EXPECT_EQ(Check("ssn", "number 536-22-8741.", "536-22-8741"), "536-22-8741");
  EXPECT_EQ(Check("ssn", "Here's my SSN: 023-01-0866", "023-01-0866"), "023-01-0866");
}

TEST(SsnValidator, BareOrSpacedNumbersNeedALabel) {
  EXPECT_EQ(Check("ssn", "SSN 536228741", "536228741"), "536228741");
  EXPECT_EQ(Check("ssn", "her social security number is 536228741", "536228741"), "536228741");
  EXPECT_EQ(Check("ssn", "SSN: 536 22 8741", "536 22 8741"), "536 22 8741");
  EXPECT_EQ(Check("ssn", "order 536228741 shipped", "536228741"), kRejected);
  EXPECT_EQ(Check("ssn", "call 536 22 8741", "536 22 8741"), kRejected);
  // The label must be a word: "tin" inside "Martin" is not one.
  EXPECT_EQ(Check("ssn", "Martin 536228741", "536228741"), kRejected);
  // Too far away.
  EXPECT_EQ(Check("ssn", "SSN field left empty; the ticket number is 536228741", "536228741"),
            kRejected);
}

TEST(SsnValidator, RejectsImpossibleRangesAndAdvertisingNumbers) {
  EXPECT_EQ(Check("ssn", "000-22-8741"), kRejected);
  EXPECT_EQ(Check("ssn", "666-22-8741"), kRejected);
  EXPECT_EQ(Check("ssn", "912-22-8741"), kRejected);
  EXPECT_EQ(Check("ssn", "536-00-8741"), kRejected);
  EXPECT_EQ(Check("ssn", "536-22-0000"), kRejected);
  EXPECT_EQ(Check("ssn", "078-05-1120"), kRejected);
  EXPECT_EQ(Check("ssn", "219-09-9999"), kRejected);
  EXPECT_EQ(Check("ssn", "123-45-6789"), kRejected);
  EXPECT_EQ(Check("ssn", "536-22 8741"), kRejected);  // mixed separators
  EXPECT_EQ(Check("ssn", "1536-22-8741", "536-22-8741"), kRejected);
  EXPECT_EQ(Check("ssn", "536-22-8741-3", "536-22-8741"), kRejected);
}

// ----------------------------------------------------------------------------- phone

TEST(PhoneValidator, AcceptsInternationalAndNationalForms) {
  for (std::string_view p :
       {"+44 20 7946 0958", "(555) 123-4567", "555-123-4567", "+1-202-555-0173",
        "+41 (0)85 806 98 67", "(898)666-3621x0135", "463-612-6138x036", "930.167.3943",
        "+447700677662", "001-518-640-0854", "030 12345678", "5403926876", "0688 872 49 99"}) {
    std::string text = "call " + std::string(p) + " now";
    EXPECT_EQ(Check("phone", text, p), p) << p;
  }
}

TEST(PhoneValidator, RejectsDatesIpsCardsAndIds) {
  EXPECT_EQ(Check("phone", "on 2023-11-05 at noon", "2023-11-05"), kRejected);
  EXPECT_EQ(Check("phone", "on 05.11.2023 at noon", "05.11.2023"), kRejected);
  EXPECT_EQ(Check("phone", "host 192.168.10.20 down", "192.168.10.20"), kRejected);
  EXPECT_EQ(Check("phone", "bad 256.256.256.256", "256.256.256.256"), kRejected);
  EXPECT_EQ(Check("phone", "card 4111111111111111", "4111111111111111"), kRejected);
  EXPECT_EQ(Check("phone", "order 12345"), kRejected);
  EXPECT_EQ(Check("phone", "id 1234567", "1234567"), kRejected);  // short unbroken run
  EXPECT_EQ(Check("phone", "at 2015-12-22 04:34:22", "2015-12-22 04"), kRejected);
  EXPECT_EQ(Check("phone", "1111111111"), kRejected);
  EXPECT_EQ(Check("phone", "build 20240305.1", "20240305.1"), kRejected);
  EXPECT_EQ(Check("phone", "about 8 000 000 000 people", "8 000 000 000"), kRejected);
}

TEST(PhoneValidator, RejectsAddressesAndPostalCodes) {
  EXPECT_EQ(Check("phone", "at 5521 119 Countess Close", "5521 119"), kRejected);
  EXPECT_EQ(Check("phone", "Apt. 675 62314", "675 62314"), kRejected);
  EXPECT_EQ(Check("phone", "zip 90010-170", "90010-170"), kRejected);
}

TEST(PhoneValidator, RequiresBoundaries) {
  EXPECT_EQ(Check("phone", "x555-123-4567", "555-123-4567"), kRejected);
  EXPECT_EQ(Check("phone", "1555-123-4567", "555-123-4567"), kRejected);
  EXPECT_EQ(Check("phone", "555-123-4567-8", "555-123-4567"), kRejected);
  EXPECT_EQ(Check("phone", "555-123-4567:12", "555-123-4567"), kRejected);
}

// ----------------------------------------------------------------------------- ip

TEST(Ipv4Validator, ChecksOctetsAndBoundaries) {
  EXPECT_EQ(Check("ipv4", "from 10.0.0.1 ok", "10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(Check("ipv4", "255.255.255.255"), "255.255.255.255");
  EXPECT_EQ(Check("ipv4", "256.1.1.1"), kRejected);
  EXPECT_EQ(Check("ipv4", "1.2.3.04"), kRejected);
  EXPECT_EQ(Check("ipv4", "1.2.3.4.5", "1.2.3.4"), kRejected);
  EXPECT_EQ(Check("ipv4", "1.2.3.4.5", "2.3.4.5"), kRejected);
  EXPECT_EQ(Check("ipv4", "v1.2.3.4", "1.2.3.4"), kRejected);
  EXPECT_EQ(Check("ipv4", "at 1.2.3.4. Then", "1.2.3.4"), "1.2.3.4");
}

TEST(Ipv4PublicValidator, ReportsRoutableAddressesOnly) {
  EXPECT_EQ(Check("ipv4_public", "8.8.8.8"), "8.8.8.8");
  EXPECT_EQ(Check("ipv4_public", "133.133.133.133:8080"), "133.133.133.133:8080");
  EXPECT_EQ(Check("ipv4_public", "x 133.133.133.133:8080", "133.133.133.133"), "133.133.133.133");
  EXPECT_EQ(Check("ipv4_public", "1.1.1.1@host", "1.1.1.1"), "1.1.1.1");
  for (std::string_view ip :
       {"10.0.0.1", "127.0.0.1", "172.16.0.1", "172.31.255.1", "192.168.0.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "203.0.113.9"}) {
    EXPECT_EQ(Check("ipv4_public", ip), kRejected) << ip;
  }
  EXPECT_EQ(Check("ipv4_public", "172.32.0.1"), "172.32.0.1");
  EXPECT_EQ(Check("ipv4_public", "8.8.8.8:99999"), kRejected);
}

TEST(Ipv6Validator, ParsesFullCompressedAndEmbeddedForms) {
  EXPECT_EQ(Check("ipv6", "2a00:1450:4009:81f:0:0:0:200e"), "2a00:1450:4009:81f:0:0:0:200e");
  EXPECT_EQ(Check("ipv6", "from 2a00:1450:4009:81f::200e.", "2a00:1450:4009:81f::200e."),
            "2a00:1450:4009:81f::200e");
  EXPECT_EQ(Check("ipv6", "6e40:4041:c617:e898:c11:40d2:c669:2eb4"),
            "6e40:4041:c617:e898:c11:40d2:c669:2eb4");
  EXPECT_EQ(Check("ipv6", "::ffff:81.2.69.142"), "::ffff:81.2.69.142");
  EXPECT_EQ(Check("ipv6", "2600::1"), "2600::1");
}

TEST(Ipv6Validator, RejectsTimesCodeAndMalformedAddresses) {
  EXPECT_EQ(Check("ipv6", "12:30:45"), kRejected);
  EXPECT_EQ(Check("ipv6", "00:1a:2b:3c:4d:5e"), kRejected);  // MAC address
  EXPECT_EQ(Check("ipv6", "std::vector", "d::"), kRejected);
  EXPECT_EQ(Check("ipv6", "dead::beef"), kRejected);
  EXPECT_EQ(Check("ipv6", "2001:db8::1::2"), kRejected);     // two "::"
  EXPECT_EQ(Check("ipv6", "1:2:3:4:5:6:7:8:9"), kRejected);  // nine groups
  EXPECT_EQ(Check("ipv6", "12345::1"), kRejected);           // group too long
  EXPECT_EQ(Check("ipv6", "::"), kRejected);
  EXPECT_EQ(Check("ipv6", "::ffff:256.1.1.1"), kRejected);
}

TEST(Ipv6Validator, RejectsNonGlobalScopes) {
  EXPECT_EQ(Check("ipv6", "::1"), kRejected);
  EXPECT_EQ(Check("ipv6", "fe80::1ff:fe23:4567:890a"), kRejected);
  EXPECT_EQ(Check("ipv6", "fd12:3456:789a::1"), kRejected);
  EXPECT_EQ(Check("ipv6", "2001:db8:85a3::8a2e:370:7334"), kRejected);
  EXPECT_EQ(Check("ipv6", "ff02::1:2"), kRejected);
  EXPECT_EQ(Check("ipv6", "::ffff:192.168.0.1"), kRejected);
}

// ----------------------------------------------------------------------------- email

TEST(EmailValidator, AcceptsAddresses) {
  EXPECT_EQ(Check("email", "write to alice.liddell@example.org.", "alice.liddell@example.org."),
            "alice.liddell@example.org");
  EXPECT_EQ(Check("email", "J.Doe+news@mail.example.co.uk"), "J.Doe+news@mail.example.co.uk");
  EXPECT_EQ(Check("email", "MilenaRossi@rhyta.com"), "MilenaRossi@rhyta.com");
}

TEST(EmailValidator, NarrowsAwayLeadingPunctuation) {
  EXPECT_EQ(Check("email", "see ..bob@example.org", "..bob@example.org"), "bob@example.org");
  EXPECT_EQ(Check("email", "a..bob@example.org"), "bob@example.org");
}

TEST(EmailValidator, RejectsMalformedDomainsAndLocalParts) {
  EXPECT_EQ(Check("email", "user@localhost"), kRejected);
  EXPECT_EQ(Check("email", "user@1.2.3.4"), kRejected);
  EXPECT_EQ(Check("email", "user@example.c"), kRejected);
  EXPECT_EQ(Check("email", "user@-example.com"), kRejected);
  EXPECT_EQ(Check("email", "user@example..com"), kRejected);
  EXPECT_EQ(Check("email", "user.@example.com"), kRejected);
  EXPECT_EQ(Check("email", "a@b@example.com"), kRejected);
  EXPECT_EQ(Check("email", "pkg@1.2.3"), kRejected);
  EXPECT_EQ(Check("email", std::string(65, 'a') + "@example.com"), kRejected);
}

// ----------------------------------------------------------------------------- jwt

constexpr std::string_view kJwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

TEST(JwtValidator, AcceptsTokensWithJsonHeaderAndPayload) {
  EXPECT_EQ(Check("jwt", kJwt), kJwt);
  // Unsigned: header and payload only.
  EXPECT_EQ(Check("jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9"),
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9");
}

TEST(JwtValidator, RejectsSegmentsThatAreNotJson) {
  EXPECT_EQ(Check("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"), kRejected);  // one segment
  EXPECT_EQ(Check("jwt", "eyJBB.eyJCC.eyJDDDD"), kRejected);
  // Header is missing its closing brace.
  EXPECT_EQ(Check("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ.eyJzdWIiOiJhbGljZSJ9.c2ln"),
            kRejected);
  // Valid JSON header but neither "alg" nor "typ".
  EXPECT_EQ(Check("jwt", "eyJmb28iOiJiYXIifQ.eyJzdWIiOiJhbGljZSJ9.c2ln"), kRejected);
  // Payload not JSON.
  EXPECT_EQ(Check("jwt", "eyJhbGciOiJub25lIn0.bm90IGpzb24.c2ln"), kRejected);
}

// ----------------------------------------------------------------------------- assignment

TEST(AssignmentValidator, NarrowsToTheValue) {
  EXPECT_EQ(Check("assignment", "db_password = \"Vq8#rT2!lm9Xb4\""), "Vq8#rT2!lm9Xb4");
  EXPECT_EQ(Check("assignment", "apiKey: 'Zk3Pq8Rt2Lm9Vb4Xc7Nz'"), "Zk3Pq8Rt2Lm9Vb4Xc7Nz");
  EXPECT_EQ(Check("assignment", "if (secret == \"q9L!m2R@t7V#b4X$c8\")",
                  "secret == \"q9L!m2R@t7V#b4X$c8\""),
            "q9L!m2R@t7V#b4X$c8");
  EXPECT_EQ(Check("assignment", "std::string secret(\"q9L!m2R@t7V#b4X$c8\");",
                  "secret(\"q9L!m2R@t7V#b4X$c8\""),
            "q9L!m2R@t7V#b4X$c8");
  EXPECT_EQ(Check("assignment", "DB_PASSWORD=Zq8Rt2Lm9Vb4Xc7N"), "Zq8Rt2Lm9Vb4Xc7N");
}

TEST(AssignmentValidator, RejectsPlaceholdersAndProse) {
  EXPECT_EQ(Check("assignment", "password = \"changeme\""), kRejected);
  EXPECT_EQ(Check("assignment", "password = \"${DB_PASSWORD}\""), kRejected);
  EXPECT_EQ(Check("assignment", "api_key = \"\""), kRejected);
  EXPECT_EQ(Check("assignment", "CLOUD_APIKEY: \"insert_key_here\""), kRejected);
  EXPECT_EQ(Check("assignment", "password = \"somefakekey\""), kRejected);
  EXPECT_EQ(Check("assignment", "someotherpassword = \"doesnt start right\""), kRejected);
  EXPECT_EQ(Check("assignment", "password = <your password>"), kRejected);
  EXPECT_EQ(Check("assignment", "password: short"), kRejected);
}

TEST(AssignmentValidator, RejectsValuesCutShortByThePattern) {
  EXPECT_EQ(Check("assignment", "PASSWORD=Zq8Rt2Lm9Vb4Xc7Nabc", "PASSWORD=Zq8Rt2Lm9Vb4Xc7N"),
            kRejected);
  EXPECT_EQ(Check("assignment", "pw = \"Zq8Rt2Lm9Vb4\" + x", "pw = \"Zq8Rt2Lm9Vb4\" +"), kRejected);
}

TEST(KeyedValueValidator, KeepsDocumentedExampleValues) {
  // Vendor-shaped values (40 base64 chars after aws_*) are reported even when they spell
  // EXAMPLE: the shape is the signal.
  EXPECT_EQ(Check("keyed_value", "aws_secret = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\""),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(Check("keyed_value", "aws_secret = \"${AWS_SECRET_ACCESS_KEY}\""), kRejected);
}

TEST(EntropyValidator, AcceptsAnySpan) { EXPECT_EQ(Check("entropy", "abc"), "abc"); }

// ----------------------------------------------------------------------------- urls, keys

TEST(UrlCredentialsValidator, NarrowsToThePassword) {
  EXPECT_EQ(Check("url_credentials", "postgres://app:Wq8rT2lm9Vb4@db.internal"), "Wq8rT2lm9Vb4");
  EXPECT_EQ(Check("url_credentials", "redis://:p4ssW0rd@cache"), "p4ssW0rd");
  EXPECT_EQ(Check("url_credentials", "https://username:password@yelp.com"), "password");
}

TEST(UrlCredentialsValidator, RejectsTemplatesAndMasks) {
  EXPECT_EQ(Check("url_credentials", "https://user:${PASSWORD}@example.com"), kRejected);
  EXPECT_EQ(Check("url_credentials", "https://user:xxxxxx@example.com"), kRejected);
  EXPECT_EQ(Check("url_credentials", "https://user:****@example.com"), kRejected);
  EXPECT_EQ(Check("url_credentials", "https://example.com@evil"), kRejected);
}

TEST(PrivateKeyValidator, KeepsWholeBlocksAndTruncatedHeaders) {
  std::string block =
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
  EXPECT_EQ(Check("private_key", block), block);
  EXPECT_EQ(Check("private_key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nyabba dabba doo"),
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg");
  EXPECT_EQ(Check("private_key", "-----BEGIN PRIVATE KEY-----"), "-----BEGIN PRIVATE KEY-----");
}

TEST(PrivateKeyValidator, RejectsMismatchedAndPublicBlocks) {
  EXPECT_EQ(
      Check("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END EC PRIVATE KEY-----"),
      kRejected);
  EXPECT_EQ(Check("private_key", "-----BEGIN PUBLIC KEY-----"), kRejected);
}

TEST(BoundedValidator, RejectsTokensGluedToWordsOrMasked) {
  EXPECT_EQ(Check("bounded", "=glpat-Zq8Rt2Lm9Vb4Xc7Nz1Yw", "glpat-Zq8Rt2Lm9Vb4Xc7Nz1Yw"),
            "glpat-Zq8Rt2Lm9Vb4Xc7Nz1Yw");
  EXPECT_EQ(Check("bounded", "testglpat-Zq8Rt2Lm9Vb4Xc7Nz1Yw", "glpat-Zq8Rt2Lm9Vb4Xc7Nz1Yw"),
            kRejected);
  EXPECT_EQ(Check("bounded", "glpat-Zq8Rt2Lm9Vb4Xc7Nz1Yw_", "glpat-Zq8Rt2Lm9Vb4Xc7Nz1Yw"),
            kRejected);
  EXPECT_EQ(Check("bounded", "glagent-XXXXXXXXXXXXXXXXXXXXXXXX"), kRejected);
}

// ----------------------------------------------------------------------------- dob

TEST(DobValidator, NarrowsToALabelledCalendarDate) {
  EXPECT_EQ(Check("dob", "DOB: 04/17/1986"), "04/17/1986");
  EXPECT_EQ(Check("dob", "date of birth 1990-02-28"), "1990-02-28");
  EXPECT_EQ(Check("dob", "born on 5 March 1977"), "5 March 1977");
  EXPECT_EQ(Check("dob", "Birthday: July 4th, 1969"), "July 4th, 1969");
  EXPECT_EQ(Check("dob", "date of birth. It's 11/3/1995"), "11/3/1995");
  EXPECT_EQ(Check("dob", "dob 29.02.2000"), "29.02.2000");  // leap year, day-first
}

TEST(DobValidator, RejectsImpossibleDatesAndUnlabelledText) {
  EXPECT_EQ(Check("dob", "DOB: 02/30/1986"), kRejected);
  EXPECT_EQ(Check("dob", "DOB: 13/13/1990"), kRejected);
  EXPECT_EQ(Check("dob", "dob 29.02.1999"), kRejected);   // not a leap year
  EXPECT_EQ(Check("dob", "DOB: 04/17/1786"), kRejected);  // implausible year
  EXPECT_EQ(Check("dob", "meeting on 04/17/2024"), kRejected);
  EXPECT_EQ(Check("dob", "born in Marseille 1990"), kRejected);
  EXPECT_EQ(Check("dob", "xdob 04/17/1986", "dob 04/17/1986"), kRejected);
}

// ----------------------------------------------------------------------------- robustness

// Untrusted input never crashes: every validator on every sub-span of awkward texts.
TEST(Validators, SurviveEverySubspanOfHostileText) {
  const std::string texts[] = {
      std::string("\0\xff\xfe:::...---@@@\"\"''(((", 22),
      "-----BEGIN PRIVATE KEY-----\n-----END",
      "eyJ.eyJ.",
      "pw = \"",
      "+((((0)))) x ext",
      "DOB 1/1/",
      "a@b.c@d",
      "::ffff:1.2.3.",
      "+",
      "(+) x1",
  };
  for (std::string_view name : ValidatorNames()) {
    ValidatorFn fn = FindValidator(name);
    for (const std::string& t : texts) {
      for (uint32_t b = 0; b < t.size(); ++b) {
        for (uint32_t e = b + 1; e <= t.size(); ++e) {
          uint32_t nb = b, ne = e;
          if (fn(t, nb, ne, ValidatorArgs{})) {
            EXPECT_LE(b, nb) << name;
            EXPECT_LE(nb, ne) << name;
            EXPECT_LE(ne, e) << name;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace rampart::detectors

namespace rampart::detectors {
namespace {

TEST(PhoneValidator, RejectsNumbersInProse) {
  auto phone = FindValidator("phone");
  ASSERT_NE(phone, nullptr);
  for (std::string text : {"revenue in 2024 3 2024 grew", "between 2023 2024 the team"}) {
    // The candidate is the digits-and-spaces run inside the text.
    uint32_t b = static_cast<uint32_t>(text.find_first_of("0123456789"));
    uint32_t e = static_cast<uint32_t>(text.find_last_of("0123456789") + 1);
    EXPECT_FALSE(phone(text, b, e, ValidatorArgs{})) << text;
  }
  std::string ok = "call 415 555 0132 today";
  uint32_t b = 5, e = 17;
  EXPECT_TRUE(phone(ok, b, e, ValidatorArgs{}));
}

}  // namespace
}  // namespace rampart::detectors
