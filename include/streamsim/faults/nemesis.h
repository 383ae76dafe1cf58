// The nemesis: injects the scenario's faults into a simulation, scripted at fixed
// times and randomly (exponential gaps, random kinds, targets and durations,
// bounded concurrency), and heals everything at the end of the safety phase.
//
// It runs as tasks of its own node, which no fault ever targets. Every fault it
// starts and ends is traced (it feeds the trace hash) and kept in a log that the
// runner prints. With swarm testing, each seed enables a random non-empty subset
// of the configured kinds, so different seeds stress different combinations.
#pragma once

#include <streamsim/proto/scenario.pb.h>
#include <streamsim/sim/simulation.h>

#include <string>
#include <vector>

namespace streamsim::faults {

const char* to_string(proto::FaultKind k);

class Nemesis {
 public:
  // targets: the nodes faults may hit (the workload's fault_targets()).
  // wipe_targets: the subset whose disks CRASH_WIPE may destroy.
  Nemesis(sim::Simulation& sim, const proto::Faults& cfg, std::vector<sim::NodeId> targets,
          std::vector<sim::NodeId> wipe_targets);
  ~Nemesis();

  // The engine instance nodes ENGINE_CRASH may crash (the workload's
  // engine_targets()). Call before start().
  void set_engine_targets(std::vector<sim::NodeId> engines);

  // One line describing the chosen settings (kinds after swarm selection, rates).
  std::string describe() const;
  // Adds the nemesis node and starts injecting. Call before the safety phase.
  void start();
  // Ends injection and heals: cancels pending faults, heals the network, and
  // restarts every crashed target. Call from the main context after the safety
  // phase; the restarted nodes come up in the next run.
  void stop_and_heal();

  const std::vector<std::string>& log() const { return log_; }
  uint64_t faults_started() const { return started_; }

 private:
  struct Active;
  void random_main(sim::SimRuntime& rt);
  void scripted_main(sim::SimRuntime& rt, const proto::ScriptedFault& f);
  // Applies one fault and returns after it ended (sleeps for its duration).
  void inject(sim::SimRuntime& rt, proto::FaultKind kind, std::vector<sim::NodeId> nodes, Duration d,
              const proto::ScriptedFault* params);
  std::vector<sim::NodeId> pick_targets(proto::FaultKind kind, Rng& rng);
  void note(const std::string& text);

  sim::Simulation& sim_;
  proto::Faults cfg_;
  std::vector<sim::NodeId> targets_;
  std::vector<sim::NodeId> wipe_targets_;
  std::vector<sim::NodeId> engine_targets_;
  std::vector<proto::FaultKind> kinds_;  // enabled for this seed
  Rng rng_;
  sim::SimRuntime* node_ = nullptr;
  uint32_t active_ = 0;
  uint64_t started_ = 0;
  bool stopped_ = false;
  std::vector<std::string> log_;
};

}  // namespace streamsim::faults
