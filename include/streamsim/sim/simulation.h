// A simulated world: the kernel, the network, and nodes with disks that can crash
// and restart. Each node has its own Runtime (SimRuntime) that its code receives;
// the node's "process" is the boot function, started at add_node and again at
// every restart with only the node's synced disk.
//
// Ownership: Simulation owns everything. A SimRuntime reference stays valid for
// the Simulation's lifetime (across crashes); objects created by a node's tasks
// die with its process.
#pragma once

#include <streamsim/core/runtime.h>
#include <streamsim/core/trace.h>
#include <streamsim/sim/disk.h>
#include <streamsim/sim/kernel.h>
#include <streamsim/sim/network.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace spdlog {
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace streamsim::sim {

class SimRuntime;
class Simulation;

struct DiskLatency {
  Duration write = Duration::micros(10);
  Duration read = Duration::micros(20);
  Duration fsync = Duration::micros(500);
};

struct SimulationConfig {
  KernelLimits limits;
  LatencyModel latency;
  DiskLatency disk_latency;
  DiskFaultConfig disk_faults;
  size_t inbox_capacity = 100'000;
  // Log lines at or above this level are written (spdlog level names: trace,
  // debug, info, warn, err, critical, off).
  std::string log_level = "warn";
  std::shared_ptr<spdlog::sinks::sink> log_sink;  // default: stderr
  // Receives every trace event from the first (run_start) on; optional.
  TraceSink* trace_sink = nullptr;
  // BUGGIFY (Runtime::buggify): off unless a scenario enables it.
  bool buggify = false;
  // Chance that a point this seed enabled fires at one evaluation.
  double buggify_fire_probability = 0.05;
  // Chance that a point is enabled for the whole run (swarm testing: each seed
  // enables its own subset, decided per point name, independent of the order in
  // which the points are first met).
  double buggify_enable_probability = 0.5;
};

using BootFn = std::function<void(SimRuntime&)>;

enum class CrashMode { keep_disk, wipe_disk };

class SimRuntime final : public Runtime {
 public:
  const std::string& node_name() const override { return name_; }
  Instant now() const override;
  void sleep_until(Instant t) override;
  void yield() override;
  TaskHandle spawn(std::string name, std::function<void()> fn) override;
  Rng& random() override { return rng_; }
  Storage& storage() override;
  spdlog::logger& log() override { return *logger_; }
  WakeReason park(Instant deadline) override;
  void unpark(TaskId task) override;
  TaskId current_task() const override;
  void probe(std::string_view mark) override;
  bool buggify(std::string_view point) override;

  // Simulation-only extras for code that lives in sim/ (brokers, workloads).
  NodeId id() const { return id_; }
  Simulation& sim() { return sim_; }
  Network& net();
  // Records a component event in the trace (and its hash).
  void trace(std::string_view what, uint64_t a = 0, uint64_t b = 0);
  bool up() const { return up_; }
  // True while the node's process is stopped (Simulation::pause).
  bool paused() const { return paused_; }
  uint64_t incarnation() const { return incarnation_; }
  // Extra latency of every fsync (and directory sync) on this node's disk, for
  // an fsync stall; zero normally.
  Duration fsync_stall() const { return fsync_stall_; }

  SimRuntime(Simulation& sim, NodeId id, std::string name, uint32_t trace_node, BootFn boot);
  ~SimRuntime() override;

 private:
  friend class Simulation;
  void start_process();
  void check_caller() const;

  Simulation& sim_;
  NodeId id_;
  std::string name_;
  uint32_t trace_node_;
  BootFn boot_;
  bool up_ = false;
  bool paused_ = false;
  Duration fsync_stall_;
  uint64_t incarnation_ = 0;
  uint32_t group_ = 0;
  Rng rng_;
  DiskModel disk_;
  std::unique_ptr<Storage> storage_;
  std::shared_ptr<spdlog::logger> logger_;
};

class Simulation {
 public:
  Simulation(uint64_t seed, SimulationConfig cfg = {});
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  uint64_t seed() const { return seed_; }
  Kernel& kernel() { return *kernel_; }
  Network& net() { return *net_; }
  Tracer& tracer() { return tracer_; }
  const SimulationConfig& config() const { return cfg_; }
  Instant now() const { return kernel_->now(); }

  // Adds a node and starts its process (boot runs as the node's first task).
  SimRuntime& add_node(std::string name, BootFn boot);
  SimRuntime& node(NodeId id) { return *nodes_.at(id); }
  SimRuntime* find(std::string_view name);
  size_t node_count() const { return nodes_.size(); }

  // Crashes a node: its tasks unwind (youngest first), its connections reset,
  // its inboxes vanish, and its disk loses unsynced data (or everything).
  // Precondition: the node is up. Does not suspend.
  CrashReport crash(NodeId id, CrashMode mode = CrashMode::keep_disk);
  // Starts the node's process again from its disk. Precondition: node is down.
  void restart(NodeId id);

  // Stops the node's process like SIGSTOP (Kernel::pause_group): none of its
  // tasks runs and its timers wake nobody until resume(); messages sent to it
  // are delivered to its inboxes and wait there, and calls it made complete but
  // are seen only after the resume. Peers see silence, never a reset: the node
  // stays up. A crash while paused ends the pause. Precondition: the node is up
  // and not paused. Does not suspend.
  void pause(NodeId id);
  // Continues a paused node; its waiting tasks run in the order they became
  // ready. No effect on a node that is not paused. Does not suspend.
  void resume(NodeId id);
  // Every fsync on the node's disk takes `extra` longer from now on (zero ends
  // the stall). Writes already waiting keep their latency. Does not suspend.
  void set_fsync_stall(NodeId id, Duration extra);

  RunStop run_until(Instant t) { return kernel_->run(t); }
  RunStop run_for(Duration d) { return kernel_->run(kernel_->now() + d); }
  RunStop run() { return kernel_->run(); }

  // Streams trace events (in addition to the always-on hash).
  void set_trace_sink(TraceSink* sink) { tracer_.set_sink(sink); }

  // Coverage marks reached so far (Runtime::probe), with their hit counts.
  const std::map<std::string, uint64_t, std::less<>>& coverage() const { return coverage_; }
  // BUGGIFY points met so far and whether this seed enabled them.
  const std::map<std::string, bool, std::less<>>& buggify_points() const { return buggify_enabled_; }

 private:
  friend class SimRuntime;
  uint64_t seed_;
  SimulationConfig cfg_;
  Tracer tracer_;
  std::unique_ptr<Kernel> kernel_;
  std::unique_ptr<Network> net_;
  std::shared_ptr<spdlog::sinks::sink> sink_;
  std::vector<std::unique_ptr<SimRuntime>> nodes_;
  Rng crash_rng_;
  Rng buggify_rng_;
  std::map<std::string, uint64_t, std::less<>> coverage_;
  std::map<std::string, bool, std::less<>> buggify_enabled_;
};

}  // namespace streamsim::sim
