// Runs one scenario for one seed: builds the simulated world, runs the safety
// phase under faults, heals, runs the liveness phase, and checks the properties.
// Pure with respect to the seed: the same scenario and seed give the same report
// (and trace hash) in any process.
#pragma once

#include <streamsim/core/trace.h>
#include <streamsim/proto/report.pb.h>
#include <streamsim/proto/scenario.pb.h>
#include <streamsim/scenarios/scenario.h>

#include <cstdint>
#include <string>
#include <vector>

namespace streamsim::harness {

struct RunOptions {
  uint64_t seed = 0;
  TraceSink* trace = nullptr;      // optional event stream (JSON lines, ...)
  std::string log_level = "warn";  // spdlog level for node logs
};

struct RunReport {
  std::string scenario;  // scenario name
  uint64_t seed = 0;
  std::string faults;    // the nemesis' chosen settings
  std::vector<std::string> fault_log;
  // The faults the nemesis injected, as explicit scripted faults at fixed
  // times (Nemesis::schedule): what shrink turns into a scenario file.
  std::vector<proto::ScriptedFault> fault_schedule;
  std::vector<scenarios::PropertyResult> properties;  // only the checked ones
  std::vector<std::pair<std::string, double>> metrics;
  uint64_t trace_hash = 0;
  uint64_t trace_events = 0;
  int64_t sim_time_ns = 0;
  uint64_t steps = 0;
  std::string stop;      // how the last run phase ended
  std::string expect_violation;  // canary: the property that must be violated
  // Coverage marks (Runtime::probe) reached in this run, with hit counts, sorted
  // by name; and the scenario's targets (expect.targets) split by whether this
  // run reached them. A single run with a missed target still passes: a sweep
  // fails when a target is missed by every seed.
  std::vector<std::pair<std::string, uint64_t>> coverage;
  std::vector<std::string> targets_reached;
  std::vector<std::string> targets_missed;
  // What the report's timeline draws (proto/report.proto): faults, crashes,
  // leader changes and transaction decisions from the trace, network
  // deliveries, and for pipeline scenarios throughput, consumer lag, the
  // watermark and the maximum event time. Bounded (reports/timeline.h) whatever
  // the run's length. Collecting it never changes the trace hash.
  proto::Timeline timeline;

  bool violated() const;
  // First violated property (or nullptr).
  const scenarios::PropertyResult* first_violation() const;
};

RunReport run_scenario(const proto::Scenario& s, const RunOptions& opt);

}  // namespace streamsim::harness
