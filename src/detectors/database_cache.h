// DatabaseCache: compiled Hyperscan databases kept on disk, keyed by what was compiled.
//
// Compiling the shipped rule packs takes seconds (minutes under sanitizers); loading a
// serialized database takes milliseconds. The key is the SHA-256 of the Hyperscan version,
// the database mode and every (id, flags, pattern) triple, so any change to a rule, a flag
// or the library compiles afresh. Each file also carries the SHA-256 of its payload, so a torn
// or corrupted file is recompiled rather than trusted.
//
// A cache directory is as trusted as the rule packs themselves: whoever can write it can
// change what the engine matches. The cache is therefore used only when the directory is
// owned by the current user and not writable by group or others; otherwise it is ignored.
//
// Thread safety: stateless; concurrent writers of one key are safe (write, then rename).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

struct hs_database;

namespace rampart::detectors {

enum class CacheOutcome { kDisabled, kUnsafeDirectory, kHit, kMissWritten, kMissNotWritten };

// Compiles patterns[i] with flags[i] and ids[i] in block mode into `*db`, going through the
// cache in `cache_dir` when it is non-empty and safe. On a compile error, returns the error
// of hs_compile_multi with the index of the offending expression in `*bad_expression`.
absl::Status CompileCached(const std::vector<const char*>& patterns,
                           const std::vector<unsigned int>& flags,
                           const std::vector<unsigned int>& ids, const std::string& cache_dir,
                           hs_database** db, int* bad_expression, CacheOutcome* outcome);

}  // namespace rampart::detectors
