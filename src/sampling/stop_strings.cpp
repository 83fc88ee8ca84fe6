#include "sampling/stop_strings.h"

#include <algorithm>

namespace hearth::sampling {

StopStrings::StopStrings(std::vector<std::string> stops) {
  for (std::string& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

StopStrings::Result StopStrings::push(std::string_view piece) {
  if (stopped_) return {"", true};
  held_ += piece;
  // The earliest stop string wins.
  size_t first = std::string::npos;
  for (const std::string& s : stops_)
    if (const size_t at = held_.find(s); at < first) first = at, matched_ = s;
  if (first != std::string::npos) {
    Result r{held_.substr(0, first), true};
    held_.clear();
    stopped_ = true;
    return r;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    const size_t max = std::min(s.size() - 1, held_.size());
    for (size_t n = max; n > hold; --n)
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        hold = n;
        break;
      }
  }
  Result r{held_.substr(0, held_.size() - hold), false};
  held_.erase(0, held_.size() - hold);
  return r;
}

std::string StopStrings::flush() {
  std::string out;
  out.swap(held_);
  return stopped_ ? std::string() : out;
}

}  // namespace hearth::sampling
