// Thin wrappers over OpenSSL 3 for the hashes and encodings Rampart needs.
//
// Thread safety: stateless functions; OpenSSL 3 needs no global initialization.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace rampart {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);
// HMAC-SHA256 of `data` under `key`.
Sha256Digest HmacSha256(std::string_view key, std::string_view data);
// Lower-case hex of `bytes`.
std::string ToHex(const uint8_t* bytes, size_t n);
inline std::string ToHex(const Sha256Digest& d) { return ToHex(d.data(), d.size()); }
// Standard base64 with padding (RFC 4648 section 4).
std::string Base64Encode(std::string_view data);

}  // namespace rampart
