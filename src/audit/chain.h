// The hash chain and the signatures of the audit log (format in docs/audit.md).
//
//   record_hash = SHA-256(prev_hash || canonical record bytes)   (prev_hash: 32 raw bytes)
//   mac         = HMAC-SHA256(key, record_hash)
//
// The first record's prev_hash is 32 zero bytes, or the record_hash of the checkpoint that
// retention left behind. Checkpoints and the head (the last written seq and hash) carry their
// own HMACs over a domain-separated message, so one kind of signature cannot stand in for
// another.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/crypto.h"

namespace rampart::audit {

// A key shorter than this is refused: HMAC-SHA256 wants at least 128 bits of secret.
inline constexpr size_t kMinKeyBytes = 16;

// prev_hash of the first record of a log that has never been pruned.
const Sha256Digest& GenesisHash();

Sha256Digest RecordHash(const Sha256Digest& prev_hash, std::string_view canonical);
Sha256Digest RecordMac(std::string_view key, const Sha256Digest& record_hash);
// Signature of a retention checkpoint: "the chain up to `seq` ended in `record_hash`".
Sha256Digest CheckpointMac(std::string_view key, uint64_t seq, const Sha256Digest& record_hash,
                           int64_t created_us);
// Signature of the head row: "the last record written is `seq` with `record_hash`".
Sha256Digest HeadMac(std::string_view key, uint64_t seq, const Sha256Digest& record_hash);
// A short public fingerprint of the key, stored in the log so a wrong key gives a clear
// error rather than a MAC failure on every record. Reveals nothing about the key.
std::string KeyId(std::string_view key);

// Parses 64 lower-case hex digits.
absl::StatusOr<Sha256Digest> DigestFromHex(std::string_view hex);

// Constant-time comparison of two digests.
bool DigestEqual(const Sha256Digest& a, const Sha256Digest& b);

// Reads an audit key from `path`. The file must be a regular file that neither the group nor
// others can read or write (chmod 600 or 400), else PermissionDenied says so. Its contents,
// with surrounding whitespace trimmed, are the key; a key of 64 hex digits is used as the 32
// bytes it spells. Errors never include key material.
absl::StatusOr<std::string> LoadKeyFile(const std::string& path);

}  // namespace rampart::audit
