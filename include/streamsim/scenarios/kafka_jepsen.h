// The Jepsen-style Kafka workload on the simulated cluster.
//
// Producers send unique values ("p<producer>-<n>") round-robin over the
// partitions and record each send and its delivery report. With
// `transactional`, each producer has its own transactional.id and sends
// records_per_txn values per transaction, aborting a configurable share on
// purpose, and records every transaction's outcome (committed, aborted,
// unknown) and the seq at which it asked to commit. Consumers assign() every
// partition from the beginning; group members (member-0 ..) subscribe() in one
// group, commit what they read explicitly, record every poll with the
// generation of the assignment it read under and their member id, every
// RebalanceListener event and every commit, and with member_lifetime_ms close
// and hand over to a new consumer during the run. In the liveness phase
// producers finish their transaction and stop, and a final reader waits until
// no transaction is open (last stable offset = high watermark), then reads
// every partition to its end with a fresh read_committed consumer. The history
// goes to harness::check_kafka. Everything talks through kafka.h.
#pragma once

#include <streamsim/core/sync.h>
#include <streamsim/scenarios/kafka_history.h>
#include <streamsim/scenarios/scenario.h>
#include <streamsim/sim/kafka/cluster.h>

#include <memory>

namespace streamsim::scenarios {

class KafkaJepsenWorkload final : public Workload {
 public:
  explicit KafkaJepsenWorkload(const proto::KafkaWorkload& cfg);
  ~KafkaJepsenWorkload() override;
  const char* kind() const override { return "kafka"; }
  void setup(sim::Simulation& sim) override;
  std::vector<sim::NodeId> fault_targets() const override { return targets_; }
  // Brokers only. A controller is a Raft voter: one that loses its disk forgets
  // its vote and the metadata it acknowledged, so it could vote twice in a term
  // or undo a committed change, which breaks the quorum's safety (KRaft likewise
  // requires a wiped controller to rejoin as a new voter; not modelled).
  std::vector<sim::NodeId> disk_loss_targets() const override { return cluster_->broker_nodes(); }
  // faults::SystemHooks: the cluster, and every configured topic for the
  // leader faults.
  std::vector<sim::NodeId> kafka_controllers() const override { return cluster_->controller_nodes(); }
  std::vector<sim::NodeId> kafka_brokers() const override { return cluster_->broker_nodes(); }
  std::vector<std::string> leader_topics() const override {
    std::vector<std::string> out;
    for (const auto& t : cluster_->config().topics) out.push_back(t.name);
    return out;
  }
  void begin_liveness() override;
  bool settled() const override { return final_done_; }
  std::vector<std::pair<std::string, double>> metrics() const override;

  const KafkaHistory& history() const { return history_; }
  bool idempotent() const { return idempotent_; }
  bool final_read_done() const { return final_done_; }
  const std::string& final_read_error() const { return final_error_; }

 private:
  class Member;  // a group member's RebalanceListener and commit bookkeeping

  std::pair<streamsim::kafka::ProducerRecord, Send> next_send(uint32_t index, uint64_t n) const;
  void producer_main(sim::SimRuntime& rt, uint32_t index);
  void txn_producer_main(sim::SimRuntime& rt, uint32_t index);
  void consumer_main(sim::SimRuntime& rt, uint32_t index);
  void member_main(sim::SimRuntime& rt, uint32_t slot);
  void final_reader_main(sim::SimRuntime& rt);
  // The run's work is over: the liveness phase began and every producer is done.
  bool work_over() const { return liveness_ && producers_done_ == n_producers_; }
  std::vector<std::pair<std::string, std::string>> producer_props(uint32_t index) const;
  std::vector<std::pair<std::string, std::string>> consumer_props() const;
  std::vector<std::pair<std::string, std::string>> group_props() const;
  std::vector<std::pair<std::string, std::string>> final_reader_props() const;

  proto::KafkaWorkload cfg_;
  std::unique_ptr<sim::kafka::Cluster> cluster_;
  sim::Simulation* sim_ = nullptr;
  std::vector<sim::NodeId> targets_;
  std::vector<TopicPartition> partitions_;
  uint32_t n_producers_, n_consumers_, n_members_;
  bool transactional_ = false;
  bool idempotent_ = false;
  uint32_t next_consumer_id_ = 0;  // assign() consumers first, then every group member incarnation
  bool liveness_ = false;
  uint32_t producers_done_ = 0;
  bool final_done_ = false;
  std::string final_error_;
  uint64_t seq_ = 0;  // the history's global order: polls, commits, assignment events, commit requests
  CondVar done_;
  KafkaHistory history_;
};

}  // namespace streamsim::scenarios
