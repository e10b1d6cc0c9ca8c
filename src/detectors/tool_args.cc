#include "detectors/tool_args.h"

#include <boost/json.hpp>
#include <cctype>

#include "common/strings.h"

namespace rampart::detectors {
namespace {

// Lower-case, with every run of whitespace collapsed to one space.
std::string Normalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool Has(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

// `word` appears as a whole word (bounded by non-identifier characters).
bool HasWord(std::string_view s, std::string_view word) {
  for (size_t at = s.find(word); at != std::string_view::npos; at = s.find(word, at + 1)) {
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    const bool left = at == 0 || !ident(s[at - 1]);
    const bool right = at + word.size() == s.size() || !ident(s[at + word.size()]);
    if (left && right) return true;
  }
  return false;
}

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != ';' && s[j] != '&' && s[j] != '|') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j == i ? j + 1 : j;
  }
  return out;
}

bool RootishTarget(std::string_view t) {
  static constexpr std::string_view kTargets[] = {
      "/", "/*", "~", "~/", "~/*", "*", ".", "./", "./*", "..", "$home", "${home}", "$home/*"};
  for (std::string_view k : kTargets) {
    if (t == k) return true;
  }
  // A top-level directory: /etc, /home, /usr/ ...
  if (t.size() > 1 && t[0] == '/') {
    std::string_view rest = t.substr(1);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (!rest.empty() && rest.back() == '*') rest.remove_suffix(1);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    return rest.find('/') == std::string_view::npos;
  }
  return false;
}

// rm with a recursive flag aimed at the root, a home, or everything here.
bool DestructiveRm(std::string_view s) {
  std::vector<std::string_view> t = Tokens(s);
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != "rm" && !t[i].ends_with("/rm")) continue;
    bool recursive = false;
    size_t j = i + 1;
    for (; j < t.size() && t[j].starts_with("-"); ++j) {
      if (t[j] == "--recursive" || (!t[j].starts_with("--") && Has(t[j], "r"))) recursive = true;
      if (t[j] == "--no-preserve-root") return true;
    }
    if (!recursive) continue;
    for (; j < t.size() && !t[j].starts_with("-"); ++j) {
      if (RootishTarget(t[j])) return true;
    }
  }
  return false;
}

struct ShellCheck {
  std::string_view name;
  bool (*matches)(std::string_view);
};

const ShellCheck kShell[] = {
    {"rm -rf", DestructiveRm},
    {"mkfs", [](std::string_view s) { return HasWord(s, "mkfs") || Has(s, "mkfs."); }},
    {"dd to a device", [](std::string_view s) { return HasWord(s, "dd") && Has(s, "of=/dev/"); }},
    {"overwrite a device",
     [](std::string_view s) {
       return Has(s, "> /dev/sd") || Has(s, ">/dev/sd") || Has(s, "> /dev/nvme") ||
              Has(s, ">/dev/nvme");
     }},
    {"download and execute",
     [](std::string_view s) {
       const bool fetch = HasWord(s, "curl") || HasWord(s, "wget") || Has(s, "base64 -d");
       return fetch && (Has(s, "| sh") || Has(s, "|sh") || Has(s, "| bash") || Has(s, "|bash") ||
                        Has(s, "| zsh") || Has(s, "| python") || Has(s, "|python"));
     }},
    {"reverse shell",
     [](std::string_view s) {
       return Has(s, "/dev/tcp/") || Has(s, "/dev/udp/") || Has(s, "nc -e") || Has(s, "ncat -e") ||
              Has(s, "nc -c") || Has(s, "socat exec:") || (Has(s, "bash -i") && Has(s, ">&"));
     }},
    {"fork bomb", [](std::string_view s) { return Has(s, ":(){") || Has(s, ":() {"); }},
    {"chmod 777 on the root",
     [](std::string_view s) {
       return Has(s, "chmod -r 777 /") || Has(s, "chmod 777 / ") || s.ends_with("chmod 777 /");
     }},
    {"shutdown",
     [](std::string_view s) {
       return HasWord(s, "shutdown") || HasWord(s, "poweroff") || HasWord(s, "reboot") ||
              Has(s, "init 0") || Has(s, "halt -f");
     }},
    {"crontab -r", [](std::string_view s) { return Has(s, "crontab -r"); }},
};

bool StartsWithSqlKeyword(std::string_view stmt) {
  static constexpr std::string_view kKeywords[] = {
      "select", "insert", "update", "delete",  "drop", "truncate", "grant", "alter", "create",
      "copy",   "with",   "exec",   "execute", "load", "replace",  "merge", "call",  "revoke"};
  while (!stmt.empty() && (stmt[0] == ' ' || stmt[0] == '(')) stmt.remove_prefix(1);
  for (std::string_view k : kKeywords) {
    if (stmt.starts_with(k) &&
        (stmt.size() == k.size() || !std::isalnum(static_cast<unsigned char>(stmt[k.size()])))) {
      return true;
    }
  }
  return false;
}

// The destructive or exfiltrating pattern in one SQL statement, or "".
std::string_view SqlRisk(std::string_view st) {
  while (!st.empty() && st[0] == ' ') st.remove_prefix(1);
  if (st.starts_with("drop ")) return "DROP";
  if (st.starts_with("truncate")) return "TRUNCATE";
  if (st.starts_with("delete ") && !HasWord(st, "where")) return "DELETE without WHERE";
  if (st.starts_with("update ") && Has(st, " set ") && !HasWord(st, "where")) {
    return "UPDATE without WHERE";
  }
  if (st.starts_with("grant all") || Has(st, "grant all privileges")) return "GRANT ALL";
  if (Has(st, "into outfile") || Has(st, "into dumpfile")) return "INTO OUTFILE";
  if (Has(st, "xp_cmdshell")) return "xp_cmdshell";
  if (st.starts_with("copy") && (Has(st, "to program") || Has(st, "from program"))) {
    return "COPY PROGRAM";
  }
  if (Has(st, "load_file(")) return "LOAD_FILE";
  return "";
}

bool AllowedHost(std::string_view host, const std::vector<std::string>& allowed) {
  for (const std::string& d : allowed) {
    if (host == d) return true;
    if (host.size() > d.size() && host.ends_with(d) && host[host.size() - d.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::string PointerEscape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

ToolArgChecker::ToolArgChecker(ToolArgOptions options) : options_(std::move(options)) {
  for (std::string& d : options_.allowed_domains) d = Normalize(d);
}

void ToolArgChecker::CheckValue(std::string_view value, std::string_view pointer,
                                std::vector<ToolArgFinding>* out) const {
  const std::string s = Normalize(value);
  // URLs: scheme://host...
  for (size_t at = s.find("://"); at != std::string::npos; at = s.find("://", at + 3)) {
    size_t scheme_start = at;
    while (scheme_start > 0 && std::isalpha(static_cast<unsigned char>(s[scheme_start - 1]))) {
      --scheme_start;
    }
    std::string_view scheme = std::string_view(s).substr(scheme_start, at - scheme_start);
    if (scheme == "file") {
      out->push_back({"tool.url", Severity::kHigh, std::string(pointer), "file://"});
      continue;
    }
    if (scheme != "http" && scheme != "https" && scheme != "ftp" && scheme != "ws" &&
        scheme != "wss" && scheme != "gopher") {
      continue;
    }
    size_t end = s.find_first_of("/?# \"'<>", at + 3);
    std::string host = s.substr(at + 3, end == std::string::npos ? end : end - at - 3);
    if (size_t cred = host.rfind('@'); cred != std::string::npos) host.erase(0, cred + 1);
    if (!host.empty() && host[0] != '[') {
      if (size_t colon = host.find(':'); colon != std::string::npos) host.resize(colon);
    }
    while (!host.empty() && host.back() == '.') host.pop_back();
    if (host.empty() || AllowedHost(host, options_.allowed_domains)) continue;
    out->push_back({"tool.url", Severity::kHigh, std::string(pointer), host.substr(0, 253)});
  }
  for (const ShellCheck& c : kShell) {
    if (c.matches(s)) {
      out->push_back(
          {"tool.shell", Severity::kCritical, std::string(pointer), std::string(c.name)});
    }
  }
  // SQL: only statements that start like SQL, so prose that mentions "drop table" passes.
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(';', start);
    if (end == std::string::npos) end = s.size();
    std::string_view stmt = std::string_view(s).substr(start, end - start);
    if (StartsWithSqlKeyword(stmt)) {
      std::string_view risk = SqlRisk(stmt);
      if (!risk.empty()) {
        out->push_back({"tool.sql", Severity::kHigh, std::string(pointer), std::string(risk)});
      }
    }
    start = end + 1;
  }
}

absl::StatusOr<std::vector<ToolArgFinding>> ToolArgChecker::Check(
    std::string_view arguments) const {
  if (arguments.size() > options_.max_bytes) {
    return absl::ResourceExhaustedError(
        StrCat("tool arguments of ", arguments.size(), " bytes are over ", options_.max_bytes));
  }
  boost::json::parse_options opts;
  opts.max_depth = options_.max_depth;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(arguments, ec, {}, opts);
  if (ec) return absl::InvalidArgumentError(StrCat("tool arguments are not JSON: ", ec.message()));
  if (!v.is_object()) return absl::InvalidArgumentError("tool arguments are not a JSON object");
  std::vector<ToolArgFinding> out;
  // Iterative walk: (value, pointer).
  std::vector<std::pair<const boost::json::value*, std::string>> stack = {{&v, ""}};
  while (!stack.empty()) {
    auto [node, pointer] = std::move(stack.back());
    stack.pop_back();
    if (node->is_string()) {
      CheckValue(std::string_view(node->as_string()), pointer, &out);
    } else if (node->is_object()) {
      for (const auto& kv : node->as_object()) {
        stack.emplace_back(&kv.value(), StrCat(pointer, "/", PointerEscape(kv.key())));
      }
    } else if (node->is_array()) {
      const auto& arr = node->as_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        stack.emplace_back(&arr[i], StrCat(pointer, "/", i));
      }
    }
  }
  return out;
}

}  // namespace rampart::detectors
