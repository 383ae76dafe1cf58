// The kernel self-test workload: a primary-backup counter.
//
// Replicas r0 (primary) and r1..rN-1 (backups) keep a log of increments, each
// identified by (client, request id). A client sends Increment to the primary
// and retries the same id until acknowledged. The primary appends the entry to
// its log file, fsyncs, replicates it to every backup (each appends and fsyncs)
// and only then acknowledges with the entry's 1-based position (the counter
// value). Duplicate ids are answered from the log, never appended twice.
// Recovery after a crash reads the framed, checksummed log (a torn tail is cut
// off) and takes the longest log among itself and the backups.
//
// The canary variants break this on purpose: bug_ack_before_replicate
// acknowledges right after the in-memory append (persisting and replicating in
// the background), bug_skip_fsync never fsyncs. A primary crash then loses
// acknowledged increments, which the checker (harness/checkers/counter_checker)
// must report.
#pragma once

#include <streamsim/core/sync.h>
#include <streamsim/core/time.h>
#include <streamsim/scenarios/scenario.h>
#include <streamsim/sim/simulation.h>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace streamsim::scenarios {

struct CounterEntry {
  uint32_t client = 0;
  uint64_t req = 0;
  bool operator==(const CounterEntry&) const = default;
};

// What clients observed, recorded outside the system under test.
struct CounterOp {
  uint32_t client = 0;
  uint64_t req = 0;
  Instant invoked;
  bool acked = false;
  Instant acked_at;
  uint64_t value = 0;  // position returned by the primary
  uint32_t attempts = 0;
};

struct CounterHistory {
  std::vector<CounterOp> ops;  // in invocation order
  // Final logs read from each replica after the liveness phase (index = replica);
  // nullopt if the replica could not be read.
  std::vector<std::optional<std::vector<CounterEntry>>> final_logs;
  bool final_read_done = false;
};

class CounterWorkload final : public Workload {
 public:
  explicit CounterWorkload(const proto::CounterWorkload& cfg);
  ~CounterWorkload() override;
  const char* kind() const override { return "counter"; }
  void setup(sim::Simulation& sim) override;
  std::vector<sim::NodeId> fault_targets() const override { return replicas_; }
  void begin_liveness() override;
  bool settled() const override;
  std::vector<std::pair<std::string, double>> metrics() const override;

  const CounterHistory& history() const { return history_; }
  uint32_t replica_count() const { return n_replicas_; }

 private:
  void client_main(sim::SimRuntime& rt, uint32_t client);
  void reader_main(sim::SimRuntime& rt);

  proto::CounterWorkload cfg_;
  uint32_t n_replicas_;
  uint32_t n_clients_;
  std::vector<sim::NodeId> replicas_;
  bool liveness_ = false;
  uint32_t clients_done_ = 0;
  CondVar done_;  // clients finishing, liveness starting
  CounterHistory history_;
  sim::Simulation* sim_ = nullptr;
};

}  // namespace streamsim::scenarios
