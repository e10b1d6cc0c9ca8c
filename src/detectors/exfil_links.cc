#include "detectors/exfil_links.h"

#include <algorithm>
#include <cctype>

namespace rampart::detectors {
namespace {

// ASCII lower case (schemes, hosts, tag and attribute names); other bytes unchanged. Not
// std::tolower: that is a locale call per byte, and this runs on every streamed batch.
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

// Host of an absolute http(s) or protocol-relative URL; empty when it has none.
std::string HostOf(std::string_view url) {
  std::string lower = Lower(url.substr(0, std::min<size_t>(url.size(), 2048)));
  size_t start;
  if (lower.starts_with("http://")) {
    start = 7;
  } else if (lower.starts_with("https://")) {
    start = 8;
  } else if (lower.starts_with("//")) {
    start = 2;
  } else {
    return "";
  }
  size_t end = lower.find_first_of("/?#", start);
  std::string authority = lower.substr(start, end == std::string::npos ? end : end - start);
  // user:pass@host:port
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    return authority.substr(0, close == std::string::npos ? authority.size() : close + 1);
  }
  if (size_t colon = authority.find(':'); colon != std::string::npos) authority.resize(colon);
  while (!authority.empty() && authority.back() == '.') authority.pop_back();
  return authority;
}

bool CarriesData(std::string_view url, size_t max_plain_path) {
  if (url.find_first_of("?#") != std::string_view::npos) return true;
  size_t scheme = url.find("//");
  size_t path = scheme == std::string_view::npos ? 0 : url.find('/', scheme + 2);
  return path != std::string_view::npos && url.size() - path > max_plain_path;
}

// The URL of a Markdown destination "(url "title")" starting after '('; returns its end.
size_t MarkdownUrlEnd(std::string_view text, size_t start) {
  size_t i = start;
  if (i < text.size() && text[i] == '<') {
    size_t close = text.find('>', i);
    return close == std::string_view::npos ? std::string_view::npos : close + 1;
  }
  int depth = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '(') ++depth;
    if (c == ')') {
      if (depth == 0) return i;
      --depth;
    }
    if (c == ' ' || c == '\n' || c == '\t') return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::string_view LinkKindName(LinkKind k) {
  switch (k) {
    case LinkKind::kMarkdownImage:
      return "markdown_image";
    case LinkKind::kMarkdownLink:
      return "markdown_link";
    case LinkKind::kHtmlImage:
      return "html_image";
    case LinkKind::kHtmlLink:
      return "html_link";
    case LinkKind::kDataUri:
      return "data_uri";
  }
  return "link";
}

ExfilLinkFinder::ExfilLinkFinder(ExfilLinkOptions options) : options_(std::move(options)) {
  for (std::string& d : options_.allowed_domains) d = Lower(d);
}

bool ExfilLinkFinder::Allowed(std::string_view host) const {
  for (const std::string& d : options_.allowed_domains) {
    if (host == d) return true;
    if (host.size() > d.size() && host.ends_with(d) && host[host.size() - d.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::vector<ExfilLink> ExfilLinkFinder::Find(std::string_view text) const {
  std::vector<ExfilLink> out;
  auto consider = [&](LinkKind kind, size_t begin, size_t end, size_t ub, size_t ue) {
    std::string_view url = text.substr(ub, ue - ub);
    while (!url.empty() && (url.front() == '<' || url.front() == ' ')) url.remove_prefix(1);
    while (!url.empty() && (url.back() == '>' || url.back() == ' ')) url.remove_suffix(1);
    ExfilLink link{kind, begin, end, ub, ue, "", false};
    if (Lower(url.substr(0, 5)) == "data:") {
      link.kind = LinkKind::kDataUri;
      link.carries_data = true;
      out.push_back(link);
      return;
    }
    link.host = HostOf(url);
    if (link.host.empty() || Allowed(link.host)) return;  // relative links stay on the page
    link.carries_data = CarriesData(url, options_.max_plain_path);
    const bool image = kind == LinkKind::kMarkdownImage || kind == LinkKind::kHtmlImage;
    if (image || link.carries_data) out.push_back(link);
  };

  // Markdown: ![alt](url) and [text](url).
  for (size_t i = text.find("]("); i != std::string_view::npos; i = text.find("](", i + 2)) {
    size_t open = text.rfind('[', i);
    if (open == std::string_view::npos) continue;
    if (text.substr(open + 1, i - open - 1).find('\n') != std::string_view::npos) continue;
    const bool image = open > 0 && text[open - 1] == '!';
    size_t url_end = MarkdownUrlEnd(text, i + 2);
    if (url_end == std::string_view::npos) continue;
    size_t close = text.find(')', url_end);
    if (close == std::string_view::npos) continue;
    consider(image ? LinkKind::kMarkdownImage : LinkKind::kMarkdownLink, image ? open - 1 : open,
             close + 1, i + 2, url_end);
  }
  // Markdown reference definitions: [id]: url. They render as images when an image refers to
  // them ("![alt][id]"), so they are judged as images when the text has such a reference.
  const bool reference_images =
      text.find("][") != std::string_view::npos && text.find("![") != std::string_view::npos;
  for (size_t line = 0; line < text.size();) {
    size_t eol = text.find('\n', line);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(line, eol - line);
    size_t lead = l.find_first_not_of(' ');
    if (lead != std::string_view::npos && lead < 4 && l[lead] == '[') {
      size_t colon = l.find("]:", lead);
      if (colon != std::string_view::npos) {
        size_t ub = l.find_first_not_of(' ', colon + 2);
        if (ub != std::string_view::npos) {
          size_t ue = l.find(' ', ub);
          if (ue == std::string_view::npos) ue = l.size();
          consider(reference_images ? LinkKind::kMarkdownImage : LinkKind::kMarkdownLink,
                   line + lead, eol, line + ub, line + ue);
        }
      }
    }
    line = eol + 1;
  }
  // HTML: <img src=...>, <a href=...>, <iframe src=...> (attributes in any case and quotes).
  const std::string lower = text.find('<') == std::string_view::npos ? std::string() : Lower(text);
  for (size_t i = lower.find('<'); i != std::string::npos; i = lower.find('<', i + 1)) {
    LinkKind kind;
    std::string_view attr;
    if (lower.compare(i, 4, "<img") == 0 || lower.compare(i, 7, "<iframe") == 0 ||
        lower.compare(i, 6, "<video") == 0 || lower.compare(i, 6, "<audio") == 0 ||
        lower.compare(i, 7, "<source") == 0) {
      kind = LinkKind::kHtmlImage;
      attr = "src";
    } else if (lower.compare(i, 3, "<a ") == 0) {
      kind = LinkKind::kHtmlLink;
      attr = "href";
    } else {
      continue;
    }
    size_t close = lower.find('>', i);
    if (close == std::string::npos) close = lower.size();
    for (size_t a = lower.find(attr, i); a != std::string::npos && a < close;
         a = lower.find(attr, a + 1)) {
      size_t eq = lower.find_first_not_of(" \t\n", a + attr.size());
      if (eq == std::string::npos || lower[eq] != '=') continue;
      size_t v = lower.find_first_not_of(" \t\n", eq + 1);
      if (v == std::string::npos) break;
      size_t ve;
      if (lower[v] == '"' || lower[v] == '\'') {
        ve = lower.find(lower[v], v + 1);
        ++v;
      } else {
        ve = lower.find_first_of(" \t\n>", v);
      }
      if (ve == std::string::npos) ve = close;
      consider(kind, i, std::min(close + 1, text.size()), v, ve);
      break;
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ExfilLink& a, const ExfilLink& b) { return a.begin < b.begin; });
  return out;
}

std::string ExfilLinkFinder::Remove(std::string_view text, std::vector<ExfilLink>* removed) const {
  std::vector<ExfilLink> links = Find(text);
  std::string out;
  uint64_t pos = 0;
  for (const ExfilLink& l : links) {
    if (l.begin < pos) continue;
    out.append(text.substr(pos, l.begin - pos));
    std::string_view whole = text.substr(l.begin, l.end - l.begin);
    if (l.kind == LinkKind::kMarkdownLink) {
      size_t close = whole.find("](");
      out.append(whole.substr(1, close == std::string_view::npos ? 0 : close - 1));
    } else if (l.kind == LinkKind::kMarkdownImage && whole.starts_with("![")) {
      size_t close = whole.find("](");
      out.append("[image removed: ");
      out.append(whole.substr(2, close == std::string_view::npos ? 0 : close - 2));
      out.append("]");
    } else {
      out.append("[link removed]");
    }
    pos = l.end;
  }
  out.append(text.substr(pos));
  if (removed != nullptr) *removed = std::move(links);
  return out;
}

}  // namespace rampart::detectors
