// Benchmarks behind `streamsim bench`. Each prints one JSON object (with --json)
// whose keys carry their unit, or a readable table.
#pragma once

#include <cstdint>
#include <string>

namespace streamsim::bench {

// Returns the process exit code.
int kernel(bool json, const std::string& scenario_path);
// Produce-then-consume on the simulated cluster and on librdkafka's mock cluster.
int kafka(bool json, uint64_t messages);

}  // namespace streamsim::bench
