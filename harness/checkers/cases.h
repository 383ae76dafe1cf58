// Evidence collection shared by the checkers (internal to harness/checkers):
// a property keeps its first offending case verbatim and counts the rest, so a
// report names one concrete piece of evidence without listing thousands.
#pragma once

#include <streamsim/scenarios/scenario.h>

#include <cstddef>
#include <string>

namespace streamsim::harness {

struct Cases {
  std::string first;
  size_t n = 0;
  void add(const std::string& text) {
    if (n++ == 0) first = text;
  }
  scenarios::PropertyResult result(const char* name) const {
    if (n == 0) return {name, true, ""};
    return {name, false, n == 1 ? first : first + " (and " + std::to_string(n - 1) + " more)"};
  }
};

}  // namespace streamsim::harness
