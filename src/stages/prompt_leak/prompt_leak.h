// prompt_leak: finds long verbatim or near-verbatim copies of the operator's system prompt,
// or of other configured protected strings, in responses — without canaries, by word
// shingles (detectors/prompt_leak.h) — and blocks the response or cuts the copy out. A leak
// is a high-severity finding "prompt_leak.system_prompt" or "prompt_leak.protected"
// (category prompt_extraction); the matched text is never recorded.
//
// Protected: the request's system and developer messages (protect_system_prompt, when they
// hold at least `min_prompt_words` words: a short prompt such as "You are a helpful
// assistant." is too common to protect), and the `protected` strings of the config.
//
// Non-streamed responses: every string of the body is checked. Streamed text is held back
// `stream_window` bytes, so a copy is caught before it leaves as long as the window is
// longer than the text needed to cross the threshold (min_shingles + shingle_words - 1
// words, about 80 bytes with the defaults).
//
// redact: the response is cut from the start of the first passage it shares with the
// protected text, and a marker put in its place; a stream sends nothing more for that
// choice.
//
//   config:
//     protect_system_prompt: true  # Default: true
//     min_prompt_words: 12         # shorter system prompts are not protected. Default: 12
//     protected: [STRING, ...]     # other protected strings; <= 256, each <= 65536 bytes
//     shingle_words: 5             # words per shingle, [2, 16]. Default: 5
//     min_shingles: 8              # a leak: this many shared shingles ... Default: 8
//     min_fraction: 0.5            # ... or this share of the text's shingles. Default: 0.5
//     action: block                # block | redact. Default: block
//     block_status: 403            # status of a blocked non-streamed response. Default: 403
//     stream_window: 512           # bytes held back while streaming, [64, 65536]
//     index_cache: 64              # system-prompt indexes kept (LRU, by prompt text; prompts
//                                  # over 64 KiB are not cached), [0, 4096]. Default: 64
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildPromptLeak(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
