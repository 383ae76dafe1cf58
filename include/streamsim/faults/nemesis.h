// The nemesis: injects the scenario's faults into a simulation, scripted at fixed
// times and randomly (exponential gaps, random kinds, targets and durations,
// bounded concurrency), and heals everything at the end of the safety phase.
//
// It runs as tasks of its own node, which no fault ever targets. Every fault it
// starts and ends is traced (it feeds the trace hash) and kept in a log that the
// runner prints. With swarm testing, each seed enables a random non-empty subset
// of the configured kinds, so different seeds stress different combinations.
#pragma once

#include <streamsim/faults/hooks.h>
#include <streamsim/proto/scenario.pb.h>
#include <streamsim/sim/simulation.h>

#include <map>
#include <set>
#include <string>
#include <utility>
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
  // The system under test's hooks (the workload), for the kinds that need to
  // know more than nodes: PAUSE needs none; CONTROLLER_FAILOVER, LEADER_MOVE
  // and ISOLATE_LEADER need the Kafka cluster; ZOMBIE_ENGINE, ENGINE_SCALE and
  // ISOLATE_ENGINE the engine hooks. Without hooks those kinds are skipped.
  // hooks must outlive the nemesis. Call before start().
  void set_hooks(SystemHooks* hooks);

  // One line describing the chosen settings (kinds after swarm selection, rates).
  std::string describe() const;
  // Adds the nemesis node and starts injecting. Call before the safety phase.
  void start();
  // Ends injection and heals: cancels pending faults, heals the network, and
  // restarts every crashed target. Call from the main context after the safety
  // phase; the restarted nodes come up in the next run.
  void stop_and_heal();

  const std::vector<std::string>& log() const { return log_; }
  // The faults started so far as explicit scripted faults: kind, start time
  // (whole milliseconds), duration, the chosen targets by node name, and the
  // parameters drawn at random. A scenario whose faults are exactly these (and
  // no random ones) injects the same faults without drawing them, so a failure
  // stays reproducible when the code changes (the shrink command). Faults whose
  // targets a kind chooses inside inject() keep an empty node list.
  const std::vector<proto::ScriptedFault>& schedule() const { return schedule_; }
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
  // The kinds of the catalog's second part (nemesis.cpp, below inject): each
  // applies its fault, sleeps for its duration and undoes it, noting both.
  void inject_pause(sim::SimRuntime& rt, sim::NodeId n, Duration d, const char* what);
  void inject_fsync_stall(sim::SimRuntime& rt, sim::NodeId n, Duration d, const proto::ScriptedFault* params);
  void inject_controller_failover(sim::SimRuntime& rt, Duration d);
  void inject_leader_move(sim::SimRuntime& rt);
  void inject_isolate_leader(sim::SimRuntime& rt, Duration d);
  void inject_zombie(sim::SimRuntime& rt, sim::NodeId n, Duration d);
  void inject_scale(sim::SimRuntime& rt, sim::NodeId n, Duration d);
  void inject_isolate_engine(sim::SimRuntime& rt, sim::NodeId n, Duration d);
  void inject_halves(sim::SimRuntime& rt, std::vector<sim::NodeId> side, Duration d);
  // Kinds whose targets come from the cluster's state when the fault starts,
  // not from pick_targets.
  static bool picks_own_targets(proto::FaultKind kind);
  std::vector<sim::NodeId> engine_pool() const;  // engine_targets_ then spares
  std::string node_list(const std::vector<sim::NodeId>& nodes);

  sim::Simulation& sim_;
  proto::Faults cfg_;
  std::vector<sim::NodeId> targets_;
  std::vector<sim::NodeId> wipe_targets_;
  std::vector<sim::NodeId> engine_targets_;
  SystemHooks* hooks_ = nullptr;
  // What stop_and_heal() must undo besides the network and crashed nodes:
  // paused nodes (with the incarnation paused, so a crash in between makes the
  // resume moot), stalled disks, and engines whose scaling is still in effect
  // (true: scaled out, heal scales in; false: scaled in, heal scales out).
  std::map<sim::NodeId, uint64_t> paused_;
  std::set<sim::NodeId> stalled_;
  std::map<sim::NodeId, bool> scaled_;
  std::vector<proto::FaultKind> kinds_;  // enabled for this seed
  Rng rng_;
  sim::SimRuntime* node_ = nullptr;
  uint32_t active_ = 0;
  uint64_t started_ = 0;
  bool stopped_ = false;
  std::vector<std::string> log_;
  std::vector<proto::ScriptedFault> schedule_;
};

}  // namespace streamsim::faults
