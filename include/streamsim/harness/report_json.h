// The JSON summary of a run (written by `run --report DIR` as DIR/summary.json).
#pragma once

#include <streamsim/harness/runner.h>

#include <string>

namespace streamsim::harness {

std::string to_json(const RunReport& r, const std::string& scenario_path, const std::string& replay_command);

}  // namespace streamsim::harness
