// `streamsim live`: the same pipeline scenario, workload generator and checkers
// against a real Kafka cluster or librdkafka's in-process mock cluster
// (docs/live.md).
//
// The scenario's PipelineWorkload runs unchanged as tasks of a live::LiveRuntime
// (real time) with live::LiveKafka (librdkafka): producers generate the input at
// the scenario's rate for the input phase, the engine instances run the
// registered pipeline, and when the phase ends (its duration passed, or
// stop_requested() returned true) the producers stop, send the end-of-input
// sentinels, and the final read_committed reader waits, within the scenario's
// settle bound, until the pipeline has settled. The history goes to
// check_pipeline, exactly as in simulation.
//
// Faults. With a mock cluster the scenario's faults (scripted and random) are
// mapped onto rdkafka_mock where it has an equivalent (broker down/up, round-trip
// time, injected request errors, partition leader and coordinator moves); an
// engine crash cancels an engine instance's task (its clients are destroyed
// without a commit or close) and starts a new instance after the fault's
// duration, so fencing and recovery run for real. Kinds without an equivalent
// are listed in LiveRunResult::skipped_faults with the reason. Against a real
// cluster, engine crashes are injected in-process and broker faults are
// delegated to an operator's command (LiveRunOptions::delegated_faults and
// run_fault; `streamsim live --fault-command KIND=CMD`); kinds without a command
// are skipped with the reason.
//
// Exactly-once on the mock: the mock writes no transaction markers and keeps no
// transactional offsets, so the run's clients share a live::TxnLedger that
// emulates read_committed from the outcome of every transaction of this
// process (live/txn_ledger.h): the engine's own changelog restores and the final
// reader see only committed transactions, as on a real cluster.
//
// Not deterministic (real time, real threads inside librdkafka): the seed only
// drives the workload's and nemesis's random choices.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/time.h>
#include <streamsim/harness/pipeline_checkers.h>
#include <streamsim/harness/runner.h>
#include <streamsim/proto/scenario.pb.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::harness {

struct LiveRunOptions {
  std::string bootstrap;  // a real cluster ("host:port,..."), or
  int mock_brokers = 0;   // > 0: an in-process mock cluster with this many brokers
  // Extra librdkafka properties for every client (SASL, SSL, timeouts, ...),
  // applied before the pipeline's own settings. Validated by kafka::Config.
  std::vector<std::pair<std::string, std::string>> client_config;
  std::optional<Duration> duration;  // the input phase; default: the scenario's safety_ms
  std::string topic_prefix;          // prepended to every topic and the application id
  uint64_t seed = 0;                 // the runtime's random source; 0: drawn from real entropy
  std::string storage_dir;           // LiveRuntime storage root (unused by the pipeline today)
  std::string log_level = "warn";
  Duration status_interval = Duration::seconds(5);
  // Bound of the first contact with the cluster (an unreachable bootstrap fails
  // within it).
  Duration connect_timeout = Duration::seconds(10);
  // Polled every 100 ms of real time: true ends the input phase now (Ctrl-C).
  std::function<bool()> stop_requested;
  // Progress output: the run's header, skipped faults, status lines, faults.
  std::function<void(const std::string&)> print;
  // Also run the scenario in simulation (seed 1) for the comparison line.
  bool compare_with_simulation = true;
  // Against a real cluster (bootstrap set): the broker fault kinds (CRASH,
  // PAUSE, ISOLATE, LATENCY_SPIKE, SLOW_NODE, CLOG, PACKET_LOSS, LEADER_MOVE)
  // that an operator's command carries out. For each injected fault of such a
  // kind, run_fault is called with phase "start" when it begins and "stop"
  // after its duration, with the target broker (1-based, as on the mock) and
  // the duration. It may block the calling thread (it runs a process), and
  // returns false when the command failed: the failure is logged and the run
  // goes on. Ignored with a mock cluster, which carries out every broker kind
  // itself.
  std::set<proto::FaultKind> delegated_faults;
  std::function<bool(proto::FaultKind kind, const std::string& phase, int broker, Duration duration)> run_fault;
};

struct LiveRunResult {
  RunReport report;  // properties (as `run` filters them), metrics, fault log
  uint64_t seed = 0;
  std::string bootstrap;
  std::vector<std::string> skipped_faults;  // "KIND: reason"
  // Non-empty: the verdict cannot be trusted (e.g. the mock dropped old log
  // data), and the reason.
  std::string inconclusive;
  bool interrupted = false;  // the input phase was ended by stop_requested()
  PipelinePerf live;
  std::optional<PipelinePerf> sim;  // the simulation's, seed 1
};

enum class LiveErrc { usage = 1, connection };
struct LiveError {
  LiveErrc code = LiveErrc::usage;
  std::string message;
};

// Runs the scenario live. Errors: usage (not a pipeline scenario, a bad client
// property, no cluster given), connection (the cluster did not answer within
// connect_timeout, or topics could not be created). Blocks the calling thread
// for the run (input phase + settle bound at most, plus teardown).
Result<LiveRunResult, LiveError> run_live(const proto::Scenario& s, const LiveRunOptions& opt);

// The fault kinds live mode maps on the mock (or, with mock == false, on a real
// cluster, where a broker kind needs an operator command: delegated), and the
// reason for each other kind.
std::optional<std::string> live_fault_unsupported(proto::FaultKind kind, bool mock, bool delegated = false);
// Whether `kind` is a broker fault an operator command can carry out.
bool live_fault_delegable(proto::FaultKind kind);

}  // namespace streamsim::harness
