// Exfiltration channels in model output: Markdown images and links, HTML <img>/<a>/<iframe>
// and data: URIs whose URLs point outside an allowlist of domains. A Markdown image is fetched
// by the chat client as soon as it renders — with whatever the model put in the URL (the
// "zero-click" leak of conversation data) — so images to unlisted domains are always
// findings; links are findings when their URL carries data (a query string, or a path longer
// than `max_plain_path` bytes).
//
// Thread safety: an ExfilLinkFinder is immutable after construction and may be shared.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::detectors {

struct ExfilLinkOptions {
  // Domains allowed (a domain also allows its subdomains). Default: none.
  std::vector<std::string> allowed_domains;
  // A link (not an image) whose path is longer than this, or that has a query string or a
  // fragment, "carries data". Default: 64.
  size_t max_plain_path = 64;
};

enum class LinkKind : uint8_t { kMarkdownImage, kMarkdownLink, kHtmlImage, kHtmlLink, kDataUri };

std::string_view LinkKindName(LinkKind k);

struct ExfilLink {
  LinkKind kind = LinkKind::kMarkdownImage;
  // The whole construct (e.g. `![alt](url)`) and the URL inside it, as byte spans.
  uint64_t begin = 0, end = 0;
  uint64_t url_begin = 0, url_end = 0;
  std::string host;  // lower-case; empty for data: URIs
  bool carries_data = false;
};

class ExfilLinkFinder {
 public:
  explicit ExfilLinkFinder(ExfilLinkOptions options);

  // The links that leave the allowlist and are findings under the rules above.
  std::vector<ExfilLink> Find(std::string_view text) const;

  // The text with those links removed: Markdown images and HTML images become their alt text
  // in brackets ("[image removed: alt]"), links keep their text without the URL.
  std::string Remove(std::string_view text, std::vector<ExfilLink>* removed) const;

  bool Allowed(std::string_view host) const;

 private:
  ExfilLinkOptions options_;
};

}  // namespace rampart::detectors
