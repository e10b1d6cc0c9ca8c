#include "server/sse.h"

namespace rampart::server {

bool SseParser::Feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed_) return false;
  for (char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = c == '\r';
      Line(line_, out);
      line_.clear();
      continue;
    }
    line_ += c;
    if (line_.size() + current_.data.size() + current_.event.size() > max_) {
      failed_ = true;
      return false;
    }
  }
  return true;
}

void SseParser::Line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    if (has_data_) out.push_back(std::move(current_));
    current_ = SseEvent{};
    has_fields_ = has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // comment
  std::string_view field = line, value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  has_fields_ = true;
  if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  }
  if (current_.data.size() + current_.event.size() > max_) failed_ = true;
}

std::string FormatSseData(std::string_view data) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t nl = data.find('\n', pos);
    out += "data: ";
    out.append(data.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    out += '\n';
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  out += '\n';
  return out;
}

}  // namespace rampart::server
