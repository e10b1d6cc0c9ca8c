// The texts of a request together with the role of the message that holds them, for the
// stages that treat roles differently (role_isolation, spotlight, data_exposure).
//
// Thread safety: stateless functions over one Exchange.
#pragma once

#include <string>
#include <vector>

#include "pipeline/exchange.h"

namespace rampart::stages {

struct RoleText {
  std::string role;    // the message's "role"; "user" for prompt/input and json request_fields
  size_t message = 0;  // index in "messages" (openai chat), 0 otherwise
  pipeline::TextRef ref;
};

// openai: every message's content (a string, or the "text" of each content part), with its
// role ("user" when the role is missing or not a string), then "prompt" and "input" of
// completions and embeddings as role "user"; json: the route's request_fields as "user";
// passthrough: none. System and developer messages are included: callers filter by role.
std::vector<RoleText> MessageTexts(pipeline::Exchange& ex);

// Texts at the given JSON Pointers of the request: a string, an array of strings, or message
// content (an array of parts with "text"). Pointers that do not resolve are skipped.
std::vector<pipeline::TextRef> PointerTexts(pipeline::Exchange& ex,
                                            const std::vector<std::string>& pointers);

}  // namespace rampart::stages
