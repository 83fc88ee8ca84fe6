// Stop strings over streamed text: generated text arrives in pieces, and a stop
// string may be split across them. push() emits what is certainly not part of
// a stop string and holds back a tail that could still become one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::sampling {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);  // empty strings are ignored

  struct Result {
    std::string emit;  // text safe to show now
    bool stopped;      // a stop string was found: `emit` ends just before it
  };
  // After a stop, further pushes emit nothing and report stopped.
  Result push(std::string_view piece);
  // At the end of generation: the held-back tail (empty after a stop).
  std::string flush();
  bool stopped() const { return stopped_; }
  // The stop string found (empty before a stop): Anthropic's API names it.
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_, matched_;
  bool stopped_ = false;
};

}  // namespace hearth::sampling
