// Benchmarks behind `streamsim bench`. Each prints one JSON object (with --json)
// whose keys carry their unit, or a readable table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace streamsim::bench {

// Returns the process exit code.
int kernel(bool json, const std::string& scenario_path);
// Produce-then-consume on the simulated cluster and on librdkafka's mock cluster.
int kafka(bool json, uint64_t messages);
// Nexmark query q0|q1|q2|q5|q7|all over `events` generated events in memory,
// and over `sim_events` events through the simulated cluster (unset: 200,000
// for q0 and q1, none for the others; 0: skip).
int nexmark(bool json, const std::string& query, uint64_t events, std::optional<uint64_t> sim_events);

}  // namespace streamsim::bench
