// exfil_links: exfiltration channels in model output (detectors/exfil_links) — Markdown
// images and links, HTML <img>/<a>/<iframe>, and data: URIs whose URL leaves `allow_domains`.
// An image is fetched by the chat client as soon as it renders, with whatever the model put in
// its URL (the zero-click leak), so images to other domains are always caught; links when
// their URL carries data (a query, a fragment, or a path over `max_plain_path` bytes).
//
//   action: remove  the construct is removed (an image becomes "[image removed: alt]", a link
//                   keeps its text, HTML becomes "[link removed]"); verdict redact, reason
//                   "exfil_links.removed"
//   action: block   the response is refused with `block_status` (mid-stream: the stream ends
//                   with an SSE error event), reason "exfil_links.blocked"
//
// Streams: text is held back until no construct can still be open across pieces — the last
// `stream_window` bytes, any Markdown bracket on the unfinished last line whose link is not
// complete yet, an HTML tag without its '>' — so a link split across SSE events is judged
// whole. Text is released in batches of at least half a window. A construct still open after
// `max_hold` bytes is released with every '[' and '<' from its start escaped ("\[", "&lt;"),
// so it can no longer pair with what follows into a link or tag.
//
//   config:
//     allow_domains: [example.com]  # a domain also allows its subdomains. Default: none
//     action: remove                # remove | block. Default: remove
//     max_plain_path: 64            # Default: 64
//     block_status: 403             # Default: 403
//     stream_window: 256            # bytes held back while streaming, [16, 65536]. Default: 256
//     max_hold: 16384               # most bytes held for an open construct. Default: 16384
#pragma once

#include <cstddef>
#include <string_view>

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildExfilLinks(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

// Start of the earliest construct that may still be open at the end of `text` (a Markdown
// link or image whose destination has not closed, a reference definition on the unfinished
// last line, an HTML tag without '>'), or npos. Exposed for tests.
size_t OpenLinkStart(std::string_view text);

}  // namespace rampart::stages
