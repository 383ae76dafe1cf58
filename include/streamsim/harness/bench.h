// Benchmarks behind `streamsim bench`. Each prints one JSON object (with --json)
// whose keys carry their unit, or a readable table.
#pragma once

#include <string>

namespace streamsim::bench {

// Returns the process exit code.
int kernel(bool json, const std::string& scenario_path);

}  // namespace streamsim::bench
