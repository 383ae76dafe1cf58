// The Jepsen-style Kafka workload on the simulated cluster.
//
// Producers send unique values ("p<producer>-<n>") with keys spread over the
// partitions and record each send and its delivery report; consumers assign()
// every partition from the beginning and record every poll. In the liveness
// phase producers stop, flush, and a final reader reads every partition up to
// its latest offset with a fresh read_committed consumer. The history goes to
// harness::check_kafka. Everything talks through the kafka.h client interface.
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
  void begin_liveness() override;
  bool settled() const override { return final_done_; }
  std::vector<std::pair<std::string, double>> metrics() const override;

  const KafkaHistory& history() const { return history_; }
  bool idempotent() const { return idempotent_; }
  bool final_read_done() const { return final_done_; }
  const std::string& final_read_error() const { return final_error_; }

 private:
  void producer_main(sim::SimRuntime& rt, uint32_t index);
  void consumer_main(sim::SimRuntime& rt, uint32_t index);
  void final_reader_main(sim::SimRuntime& rt);
  std::vector<std::pair<std::string, std::string>> producer_props() const;
  std::vector<std::pair<std::string, std::string>> consumer_props() const;

  proto::KafkaWorkload cfg_;
  std::unique_ptr<sim::kafka::Cluster> cluster_;
  sim::Simulation* sim_ = nullptr;
  std::vector<sim::NodeId> targets_;
  std::vector<TopicPartition> partitions_;
  uint32_t n_producers_, n_consumers_;
  bool idempotent_ = false;
  bool liveness_ = false;
  uint32_t producers_done_ = 0;
  bool final_done_ = false;
  std::string final_error_;
  uint64_t poll_seq_ = 0;
  CondVar done_;
  KafkaHistory history_;
};

}  // namespace streamsim::scenarios
