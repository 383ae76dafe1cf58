// Shrinking a failing seed (DESIGN.md section 6, `streamsim shrink`): turns a
// seed's random faults into an explicit fault schedule, then removes faults,
// shortens them and scales the workload down, keeping each step only when the
// run still violates the same property. The result is a scenario whose faults
// are all scripted at fixed times, so the failure stays reproducible after the
// code (and with it the random draws) changes.
//
// The search is deterministic library code: it never reads a clock, and runs
// scenarios through the function it is given (run_scenario in the CLI), so the
// same inputs always give the same shrunk scenario.
#pragma once

#include <streamsim/harness/runner.h>
#include <streamsim/proto/scenario.pb.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace streamsim::harness {

struct ShrinkOptions {
  uint64_t seed = 0;
  // Bound on scenario runs, the first (original) run included. At least 2.
  uint64_t max_runs = 200;
  // How many further seeds to try when the explicit schedule no longer fails
  // at the original seed (its random draws now differ).
  uint64_t extra_seeds = 8;
  // Where the scenario came from, for messages and the header comment.
  std::string scenario_path;
  // The command line that asked for the shrink, for the header comment.
  std::string command;
};

enum class ShrinkStatus {
  shrunk,            // a failing scenario was found and shrunk (perhaps not at all)
  does_not_fail,     // the seed violates no property
  not_reproducible,  // the explicit schedule failed the property at no seed tried
};

struct ShrinkResult {
  ShrinkStatus status = ShrinkStatus::does_not_fail;
  std::string property;        // the violated property the search preserves
  std::string evidence;        // its evidence in the final (smallest) run
  uint64_t seed = 0;           // the seed at which `scenario` fails
  proto::Scenario scenario;    // the shrunk scenario (valid when status == shrunk)
  size_t original_faults = 0;  // faults the original run injected
  size_t final_faults = 0;     // scripted faults in the shrunk scenario
  uint64_t runs = 0;           // scenario runs used
  bool run_limit_hit = false;  // the search stopped at max_runs
  std::vector<std::string> steps;  // what each kept step changed
};

// Runs one scenario at one seed. The CLI passes run_scenario; tests may too.
using ScenarioRunner = std::function<RunReport(const proto::Scenario&, uint64_t seed)>;
// Receives one progress line per run (no newline).
using ShrinkProgress = std::function<void(const std::string&)>;
// Validates a candidate as the loader would; false drops the candidate (a
// smaller workload may orphan a scripted fault's node, say). Returns true when
// the scenario would load.
using ScenarioValidator = std::function<bool(const proto::Scenario&)>;

// Shrinks `s` at opt.seed. Precondition: s was loaded (validated). Every
// scenario in the result passed `valid`, and `result.scenario` violated
// `result.property` at `result.seed` in its last run.
ShrinkResult shrink(const proto::Scenario& s, const ShrinkOptions& opt, const ScenarioRunner& run,
                    const ScenarioValidator& valid, const ShrinkProgress& progress);

// The scenario as a text-format file: a header comment (source scenario and
// seed, property, the command that made it, how to replay it) and the scenario.
std::string shrunk_scenario_text(const ShrinkResult& r, const ShrinkOptions& opt, const std::string& replay_command);

}  // namespace streamsim::harness
