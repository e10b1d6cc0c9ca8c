// Leetspeak: "1gn0r3 4ll pr3v10u5 1n57ruc710n5". The scanner treats a text that looks like
// leetspeak as one more encoding: it folds it back to letters and scans the folded layer with
// the rules and the model, like a decoded base64 block (decoded_via "leetspeak").
//
// Thread safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

namespace rampart::detectors {

// The letter a leet digit or symbol stands for (0->o 1->i 3->e 4->a 5->s 7->t @->a $->s);
// any other byte unchanged.
inline char UnleetChar(unsigned char c) {
  switch (c) {
    case '0':
      return 'o';
    case '1':
      return 'i';
    case '3':
      return 'e';
    case '4':
      return 'a';
    case '5':
      return 's';
    case '7':
      return 't';
    case '@':
      return 'a';
    case '$':
      return 's';
    default:
      return static_cast<char>(c);
  }
}

// True when at least 3 words, and at least a fifth of the words that contain a letter, mix
// letters with leet digits or symbols (0 1 3 4 5 7 @ $).
bool LooksLikeLeetspeak(std::string_view text);

// Same length as `text`: in words that contain a letter, and in words of at most two leet
// digits ("15" -> "is", "4" -> "a"), 0->o 1->i 3->e 4->a 5->s 7->t @->a $->s. Other bytes
// are copied.
void FoldLeetspeak(std::string_view text, std::string& out);

}  // namespace rampart::detectors
