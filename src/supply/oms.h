// OpenSSF Model Signing (OMS) v1.0: signing of model directories with the "key" and
// "certificate" methods, and verification of those and of "sigstore" bundles. See
// docs/signing.md.
//
// A signature is a Sigstore bundle (JSON, conventionally `model.sig`) holding a DSSE envelope
// whose payload is an in-toto Statement v1 with the `https://model_signing/signature/v1.0`
// predicate: one resource per file (name, SHA-256), the serialization parameters, and one
// subject whose digest is SHA-256 over the concatenated raw resource digests.
//
// Verification runs the checks in this order and stops at the first that fails: bundle
// structure and media type, verification material against the requested method, trust in the
// key (hint or certificate chain), the DSSE signature, the statement, then the model files.
// The bundle and the statement are untrusted input: parsing is bounded and never throws.
//
// The "sigstore" method is verified offline against a pinned Sigstore trusted_root.json: the
// Fulcio chain at the log entry's integrated time, the Rekor SET, inclusion proof and signed
// checkpoint, the entry's binding to this envelope, and the signer identity and issuer.
// RFC 3161 timestamps, when the bundle has any, must each verify against a timestamp
// authority of the trust root. Embedded SCTs are not checked. Signing supports the key and
// certificate methods only.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace rampart::supply::oms {

enum class Method : uint8_t { kKey, kCertificate, kSigstore };

// "key", "certificate", "sigstore".
std::string_view MethodName(Method m);
std::optional<Method> ParseMethod(std::string_view name);

inline constexpr std::string_view kBundleMediaType =
    "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kPredicateType = "https://model_signing/signature/v1.0";
// Deprecated predicate of model_signing v0.2 (digests in subject[]); accepted on verify.
inline constexpr std::string_view kLegacyPredicateType = "https://model_signing/Digests/v0.1";

// Largest bundle accepted, in bytes. Real bundles are a few KiB per thousand files.
inline constexpr size_t kMaxBundleBytes = size_t{64} << 20;

struct VerifyOptions {
  Method method = Method::kKey;
  // key: the public key, PEM text (text before the BEGIN line is skipped). EC P-256, P-384 or
  // P-521.
  std::string public_key_pem;
  // certificate: the trust anchors, PEM text (each string may hold several certificates).
  std::vector<std::string> trust_roots_pem;
  // Paths relative to the model root to leave out, in addition to the predicate's
  // ignore_paths and the top-level git files.
  std::vector<std::string> ignore_paths;
  // Pass even when the model has files the signature does not cover. Default: false.
  bool ignore_unsigned_files = false;
  // Where the bundle was read from; left out of the model when it lies inside it (spec 6.2).
  std::string bundle_path;
  // sigstore: the trust root (Sigstore trusted_root.json text: Fulcio CAs, Rekor keys) and
  // the expected signer identity (SAN email or URI) and OIDC issuer.
  std::string trusted_root_json;
  std::string identity;
  std::string issuer;
  // Threads for hashing (0 = one per core).
  unsigned threads = 0;
};

struct VerifyResult {
  bool verified = false;
  // Stable id of the first failing check: "bundle.json", "bundle.schema", "bundle.media_type",
  // "bundle.material", "key.hint", "certificate.chain", "certificate.usage",
  // "dsse.signature", "statement.schema", "statement.subject_digest", "model.files",
  // "model.changed", "model.missing", "model.unsigned", "sigstore.tlog" (SET, inclusion
  // proof, checkpoint), "sigstore.binding", "sigstore.identity", "sigstore.issuer",
  // "sigstore.timestamp". Empty when
  // verified.
  std::string check;
  // Human-readable detail; names the files or fields involved. Never holds payload bytes.
  std::string message;
  // The predicate type that was verified, and the verified resource names.
  std::string predicate_type;
  std::vector<std::string> files;
};

// Verifies the bundle `bundle_json` against the model at `model_path` (a directory or a single
// file). Errors (an input problem, not a verification verdict): the key or trust roots cannot
// be parsed, the model path cannot be read.
absl::StatusOr<VerifyResult> Verify(std::string_view bundle_json, const std::string& model_path,
                                    const VerifyOptions& options);

struct SignOptions {
  // The private key, PEM (PKCS#8 or traditional EC). EC P-256, P-384 or P-521.
  std::string private_key_pem;
  // certificate method: the signing certificate first, then intermediates, PEM. Empty: key
  // method.
  std::string certificate_chain_pem;
  // Extra paths relative to the model root to leave out; recorded in the predicate.
  std::vector<std::string> ignore_paths;
  // Where the bundle will be written; left out of the model (and recorded as ignored) when
  // it lies inside it.
  std::string bundle_path;
  unsigned threads = 0;
};

// Hashes the model at `model_path` and returns the signed bundle JSON. Errors:
// InvalidArgument for a bad key, certificate or model tree (symlinks, special files), the
// OS error when a file cannot be read.
absl::StatusOr<std::string> Sign(const std::string& model_path, const SignOptions& options);

struct KeyPair {
  std::string private_key_pem;  // PKCS#8
  std::string public_key_pem;   // SubjectPublicKeyInfo
};

// A fresh EC key pair on `curve`: "P-256" (default), "P-384" or "P-521".
absl::StatusOr<KeyPair> GenerateKeyPair(std::string_view curve = "P-256");

// The OMS key hint: lower-case hex SHA-256 of the canonical SPKI PEM of `public_key_pem`.
absl::StatusOr<std::string> KeyHint(std::string_view public_key_pem);

// DSSE pre-authentication encoding: "DSSEv1 <len> <type> <len> <payload>".
std::string Pae(std::string_view payload_type, std::string_view payload);
// The encoding model_signing v0.2 signed by mistake: "DSSEV1 <len> <type> <len> " followed
// by Python's repr() of the payload bytes.
std::string LegacyPae(std::string_view payload_type, std::string_view payload);

// Strict standard base64: padding required, no whitespace, canonical (the bits the padding
// drops must be zero).
std::optional<std::string> Base64Decode(std::string_view in);
std::string Base64Encode(std::string_view in);

}  // namespace rampart::supply::oms
