#include "detectors/database_cache.h"

#include <hs/hs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "common/crypto.h"
#include "common/file.h"
#include "common/strings.h"

namespace rampart::detectors {
namespace {

constexpr char kMagic[8] = {'R', 'M', 'P', 'H', 'S', 'D', 'B', '1'};
constexpr size_t kHeaderBytes = sizeof kMagic + 32 + 8 + 32;
constexpr size_t kMaxCacheFileBytes = 512u << 20;

void AppendU64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

Sha256Digest Key(const std::vector<const char*>& patterns, const std::vector<unsigned int>& flags,
                 const std::vector<unsigned int>& ids) {
  std::string material = StrCat("rampart-hsdb-v1|", hs_version(), "|block|");
  AppendU64(material, patterns.size());
  for (size_t i = 0; i < patterns.size(); ++i) {
    AppendU64(material, ids[i]);
    AppendU64(material, flags[i]);
    size_t n = std::strlen(patterns[i]);
    AppendU64(material, n);
    material.append(patterns[i], n);
  }
  return Sha256(material);
}

bool SafeDirectory(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  return st.st_uid == geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

bool Load(const std::string& path, const Sha256Digest& key, hs_database_t** db) {
  auto data = ReadFileBounded(path, kMaxCacheFileBytes);
  if (!data.ok() || data->size() < kHeaderBytes) return false;
  const char* p = data->data();
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return false;
  if (std::memcmp(p + sizeof kMagic, key.data(), key.size()) != 0) return false;
  uint64_t len = ReadU64(p + sizeof kMagic + 32);
  if (len != data->size() - kHeaderBytes) return false;
  std::string_view payload(p + kHeaderBytes, len);
  Sha256Digest digest = Sha256(payload);
  if (std::memcmp(p + sizeof kMagic + 40, digest.data(), digest.size()) != 0) return false;
  return hs_deserialize_database(payload.data(), payload.size(), db) == HS_SUCCESS;
}

bool Store(const std::string& path, const Sha256Digest& key, const hs_database_t* db) {
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return false;
  std::string out(kMagic, sizeof kMagic);
  out.append(reinterpret_cast<const char*>(key.data()), key.size());
  AppendU64(out, len);
  Sha256Digest digest = Sha256(std::string_view(bytes, len));
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  out.append(bytes, len);
  std::free(bytes);

  std::random_device rd;
  std::string tmp = StrCat(path, ".tmp.", getpid(), ".", rd());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

absl::Status CompileCached(const std::vector<const char*>& patterns,
                           const std::vector<unsigned int>& flags,
                           const std::vector<unsigned int>& ids, const std::string& cache_dir,
                           hs_database** db, int* bad_expression, CacheOutcome* outcome) {
  *outcome = CacheOutcome::kDisabled;
  Sha256Digest key{};
  std::string path;
  if (!cache_dir.empty()) {
    if (!SafeDirectory(cache_dir)) {
      *outcome = CacheOutcome::kUnsafeDirectory;
    } else {
      key = Key(patterns, flags, ids);
      path = StrCat(cache_dir, "/", ToHex(key), ".hsdb");
      if (Load(path, key, db)) {
        *outcome = CacheOutcome::kHit;
        return absl::OkStatus();
      }
    }
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                       static_cast<unsigned int>(patterns.size()), HS_MODE_BLOCK, nullptr, db,
                       &err) != HS_SUCCESS) {
    *bad_expression = err != nullptr ? err->expression : -1;
    std::string msg = err != nullptr ? err->message : "unknown error";
    hs_free_compile_error(err);
    return absl::InvalidArgumentError(msg);
  }
  if (!path.empty()) {
    *outcome = Store(path, key, *db) ? CacheOutcome::kMissWritten : CacheOutcome::kMissNotWritten;
  }
  return absl::OkStatus();
}

}  // namespace rampart::detectors
