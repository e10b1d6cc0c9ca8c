#include "detectors/role_markers.h"

#include <algorithm>
#include <cctype>

namespace rampart::detectors {
namespace {

struct Token {
  std::string_view text;
  std::string_view family;
  bool system;
};

// Special tokens of the common chat templates, matched exactly.
constexpr Token kTokens[] = {
    {"<|im_start|>", "chatml", false},
    {"<|im_end|>", "chatml", false},
    {"<|im_sep|>", "phi", false},
    {"<|system|>", "phi", true},
    {"<|user|>", "phi", false},
    {"<|assistant|>", "phi", false},
    {"<|end|>", "phi", false},
    {"<|begin_of_text|>", "llama3", false},
    {"<|start_header_id|>", "llama3", false},
    {"<|end_header_id|>", "llama3", false},
    {"<|eot_id|>", "llama3", false},
    {"<|endoftext|>", "generic", false},
    {"[INST]", "llama2", false},
    {"[/INST]", "llama2", false},
    {"<<SYS>>", "llama2", true},
    {"<</SYS>>", "llama2", true},
    {"[SYSTEM_PROMPT]", "mistral", true},
    {"[/SYSTEM_PROMPT]", "mistral", true},
    {"[AVAILABLE_TOOLS]", "mistral", false},
    {"[TOOL_RESULTS]", "mistral", false},
    {"<start_of_turn>", "gemma", false},
    {"<end_of_turn>", "gemma", false},
    {"<|channel|>", "generic", false},
    {"<|start|>", "generic", false},
    {"<|message|>", "generic", false},
    {"</s>", "llama2", false},
};

// Role lines: matched case-insensitively at the start of a line, followed by ':'.
struct RoleLine {
  std::string_view prefix;
  std::string_view family;
  bool system;
};
constexpr RoleLine kRoleLines[] = {
    {"### system", "alpaca", true},     {"### instruction", "alpaca", true},
    {"### response", "alpaca", false},  {"### human", "alpaca", false},
    {"### assistant", "alpaca", false}, {"system", "generic", true},
    {"human", "anthropic", false},      {"assistant", "anthropic", false},
    {"user", "vicuna", false},
};

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::vector<RoleMarker> FindRoleMarkers(std::string_view text) {
  std::vector<RoleMarker> out;
  for (const Token& t : kTokens) {
    for (size_t at = text.find(t.text); at != std::string_view::npos;
         at = text.find(t.text, at + t.text.size())) {
      RoleMarker m{at, at + t.text.size(), t.family, t.system};
      // "<|im_start|>system" opens a system turn.
      if (t.text == "<|im_start|>" || t.text == "<|start_header_id|>" ||
          t.text == "<start_of_turn>" || t.text == "<|start|>") {
        m.system = StartsWithNoCase(text.substr(m.end), "system");
      }
      out.push_back(m);
    }
  }
  // Line-initial role labels: "System:", "### Instruction:" ... (after optional spaces).
  for (size_t line = 0; line < text.size();) {
    size_t eol = text.find('\n', line);
    if (eol == std::string_view::npos) eol = text.size();
    size_t start = line;
    while (start < eol && (text[start] == ' ' || text[start] == '\t')) ++start;
    std::string_view rest = text.substr(start, eol - start);
    for (const RoleLine& r : kRoleLines) {
      if (!StartsWithNoCase(rest, r.prefix)) continue;
      size_t after = r.prefix.size();
      while (after < rest.size() && rest[after] == ' ') ++after;
      if (after < rest.size() && rest[after] == ':') {
        out.push_back(RoleMarker{start, start + after + 1, r.family, r.system});
        break;
      }
    }
    line = eol + 1;
  }
  std::sort(out.begin(), out.end(),
            [](const RoleMarker& a, const RoleMarker& b) { return a.begin < b.begin; });
  return out;
}

std::string NeutralizeRoleMarkers(std::string_view text, std::vector<RoleMarker>* markers) {
  std::vector<RoleMarker> found = FindRoleMarkers(text);
  std::string out;
  out.reserve(text.size() + found.size() * 2);
  uint64_t pos = 0;
  for (const RoleMarker& m : found) {
    if (m.begin < pos) continue;  // overlapping markers: the first one is broken already
    out.append(text.substr(pos, m.begin - pos));
    std::string_view marker = text.substr(m.begin, m.end - m.begin);
    if (marker.back() == ':') {
      // "System:" -> "System -": no longer a role label.
      out.append(marker.substr(0, marker.size() - 1));
      out.append(" -");
    } else {
      out += marker[0];
      out += ' ';
      out.append(marker.substr(1));
    }
    pos = m.end;
  }
  out.append(text.substr(pos));
  if (markers != nullptr) *markers = std::move(found);
  return out;
}

}  // namespace rampart::detectors
