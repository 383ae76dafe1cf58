// Loading scenario files and the registry of workloads they name.
//
// A scenario file is protobuf text format checked against proto/scenario.proto.
// Loading never crashes on bad input: a syntax error, an unknown field, a value
// of the wrong type or a value out of range is a ScenarioError naming the file,
// line, column and field. The caller (the CLI) reads the file; this code only
// parses text, so it stays free of I/O.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/faults/hooks.h>
#include <streamsim/proto/scenario.pb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamsim::sim {
class Simulation;
using NodeId = uint32_t;
}  // namespace streamsim::sim

namespace streamsim::scenarios {

struct ScenarioError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error has no position
  int column = 0;  // 1-based
  std::string field;  // dotted path, e.g. "faults.random.mean_interval_ms"
  std::string message;
  // "file:line:column: error: field: message"
  std::string format() const;
};

// The outcome of one checked property.
struct PropertyResult {
  std::string name;
  bool held = true;
  std::string evidence;  // first evidence of a violation, empty when held
};

// A workload: the system under test plus the clients that drive it and record a
// history. Checkers (harness/checkers/) judge the history; the workload itself
// never decides whether it behaved. It is also the nemesis's view of the system
// (faults::SystemHooks: where the Kafka cluster is, the engines' coordinators,
// scale_out / scale_in of engine instances); the defaults say "none".
class Workload : public faults::SystemHooks {
 public:
  virtual ~Workload() = default;
  virtual const char* kind() const = 0;
  // Adds the workload's nodes and starts their processes.
  virtual void setup(sim::Simulation& sim) = 0;
  // Nodes that faults may crash, partition, clog or slow.
  virtual std::vector<sim::NodeId> fault_targets() const = 0;
  // Targets whose whole disk a fault may destroy (CRASH_WIPE). By default all;
  // a node whose state has no replica to recover from is left out.
  virtual std::vector<sim::NodeId> disk_loss_targets() const { return fault_targets(); }
  // Engine instance nodes, the targets of ENGINE_CRASH (none by default).
  virtual std::vector<sim::NodeId> engine_targets() const { return {}; }
  // Liveness phase: faults have healed; start no new work, finish what is open.
  virtual void begin_liveness() = 0;
  // True once every open operation finished and the final state was read.
  virtual bool settled() const = 0;
  // Numbers for the summary (name with unit, value).
  virtual std::vector<std::pair<std::string, double>> metrics() const = 0;
};

// Properties a workload kind can check, in report order.
std::vector<std::string> known_properties(const proto::Scenario& s);

// Parses and validates a scenario. `file` is used in error messages only.
Result<proto::Scenario, ScenarioError> parse_scenario(const std::string& text, const std::string& file);
// Same, but an error is returned through *err (for callers that want both).
bool parse_scenario(const std::string& text, const std::string& file, proto::Scenario* out, ScenarioError* err);

// Creates the workload a (validated) scenario names.
std::unique_ptr<Workload> make_workload(const proto::Scenario& s);

}  // namespace streamsim::scenarios
