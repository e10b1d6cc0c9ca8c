// PickleVm: a static interpreter of the pickle format that follows CPython's unpickler opcode
// by opcode (protocols 0-5: framing, memo, marks, persistent ids, extension codes,
// out-of-band buffers) without importing or calling anything.
//
// It models the stack, the mark stack and the memo with abstract values, which is enough to
// resolve the operands of STACK_GLOBAL when they are string constants, to tell which callable
// a REDUCE/NEWOBJ/BUILD applies to, and to see a bytes constant passed to a call (for nested
// pickles). Every import and call is reported to a PickleVisitor with its byte offset; the
// visitor decides what is allowed (see policy.h).
//
// Bulk payloads (BINBYTES, BINUNICODE8, BYTEARRAY8 ...) are never copied: values keep a view
// into the input, and text is decoded only for strings up to PickleLimits::max_kept_string
// bytes. Memory is bounded by the limits below, whatever the input.
//
// Several pickles back to back (legacy PyTorch files) are all interpreted: after each STOP,
// interpretation continues while the rest of the input looks like a pickle.
//
// Thread safety: a PickleVm is cheap and single-use per Run(); distinct objects may be used
// from distinct threads. The input must outlive Run() (events carry views into it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::supply {

struct PickleLimits {
  // Largest input interpreted; beyond it the run stops with kLimit. Default: 16 GiB.
  uint64_t max_bytes = uint64_t{16} << 30;
  // Opcodes interpreted over all stacked pickles. Default: 2^31.
  uint64_t max_opcodes = uint64_t{1} << 31;
  // Values on the stack (all marks included; about 56 bytes each). Default: 2^20.
  uint64_t max_stack = uint64_t{1} << 20;
  // Open MARKs. Default: 2^16.
  uint64_t max_marks = uint64_t{1} << 16;
  // Memo entries (about 56 bytes each). Default: 2^20.
  uint64_t max_memo = uint64_t{1} << 20;
  // Stacked pickles in one stream. Default: 64.
  uint32_t max_pickles = 64;
  // Strings up to this many bytes are decoded and kept (STACK_GLOBAL operands). Default: 256.
  uint32_t max_kept_string = 256;
};

enum class PickleOutcome : uint8_t {
  kComplete,   // every pickle ended with STOP and the input was consumed
  kTruncated,  // the input ended inside a pickle (CPython: EOFError / "pickle data was truncated")
  kMalformed,  // CPython would raise at `error_offset`; nothing after it was interpreted
  kLimit,      // a PickleLimits bound was hit at `error_offset`
};

std::string_view PickleOutcomeName(PickleOutcome o);

enum class PickleEventKind : uint8_t {
  kImport,      // GLOBAL, INST, STACK_GLOBAL with resolved operands: module + name
  kUnresolved,  // STACK_GLOBAL whose operands are not string constants
  kExtCode,     // EXT1/EXT2/EXT4: an import through the copyreg extension registry
  kCall,        // REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ, BUILD (__setstate__)
  kAnomaly,     // accepted by CPython's C unpickler but rejected by pickle.py (or vice versa)
  kTrailing,    // bytes after the last STOP that do not look like a pickle
};

struct PickleEvent {
  PickleEventKind kind = PickleEventKind::kImport;
  // Byte offset of the opcode in the input.
  uint64_t offset = 0;
  // Opcode byte ('c', 0x93, 'R' ...).
  uint8_t opcode = 0;
  // kImport: the module and the (possibly dotted) attribute name, as CPython's find_class
  // receives them. kCall: the callable's module and name when it is a known import, both
  // empty when the callable was computed (the result of another call, a memo value ...).
  std::string_view module;
  std::string_view name;
  // kCall: a bytes constant among the call's arguments (first one), for nested pickles;
  // `arg_bytes_offset` is its offset in the input.
  std::string_view arg_bytes;
  uint64_t arg_bytes_offset = 0;
  // kExtCode: the code. kTrailing: the number of bytes.
  uint64_t number = 0;
  // kUnresolved / kAnomaly: what was seen.
  std::string_view detail;
};

// Receives events in input order. May not re-enter the VM that calls it.
class PickleVisitor {
 public:
  virtual ~PickleVisitor() = default;
  virtual void OnEvent(const PickleEvent& event) = 0;
  // Called now and then (every 2^20 opcodes) with the offset reached, for progress displays.
  virtual void OnProgress(uint64_t /*offset*/) {}
};

struct PickleRunResult {
  PickleOutcome outcome = PickleOutcome::kComplete;
  // Offset of the opcode that failed (kTruncated: where the missing bytes start).
  uint64_t error_offset = 0;
  std::string error;  // what failed, no payload bytes
  uint64_t opcodes = 0;
  uint32_t pickles = 0;  // pickles that reached STOP
  uint64_t bytes_consumed = 0;
  int highest_protocol = 0;
};

class PickleVm {
 public:
  explicit PickleVm(const PickleLimits& limits = PickleLimits()) : limits_(limits) {}

  // Interprets `data` from its start. Never throws; any input is fine.
  PickleRunResult Run(std::string_view data, PickleVisitor& visitor) const;

  // True when `data` starts like a pickle: PROTO with a known version or a protocol-0/1
  // opcode, followed by opcodes that interpret without error for a few steps (or to STOP or
  // the end of the data). Used for content sniffing; `strict` also requires the probe for
  // data that starts with PROTO.
  static bool LooksLikePickle(std::string_view data, bool strict);

 private:
  PickleLimits limits_;
};

}  // namespace rampart::supply
