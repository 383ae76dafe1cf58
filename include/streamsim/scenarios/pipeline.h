// The pipeline workload: the streaming engine end to end on the simulated
// Kafka cluster (docs/scenarios.md, "pipeline").
//
// Producers (producer-0 ..) write generated events to the pipeline's source
// topic and record every send; engine instances (engine-0 ..) run the
// scenario's registered pipeline with EngineInstance; their observer calls are
// recorded. In the liveness phase the producers stop, flush, and producer-0
// sends one sentinel per source partition far ahead in event time so that every
// data window closes; the final reader (final-reader) then waits, within the
// settle bound, until the engines' group has committed every input offset,
// every committed input event is in an emitted window or in the late topic, and
// no transaction is left open. The history goes to harness::check_pipeline.
//
// Every node talks to the cluster through kafka.h only.
#pragma once

#include <streamsim/core/sync.h>
#include <streamsim/scenarios/pipeline_history.h>
#include <streamsim/scenarios/scenario.h>
#include <streamsim/sim/kafka/cluster.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::engine {
class EngineInstance;
}

namespace streamsim::scenarios {

class PipelineWorkload final : public Workload {
 public:
  // Precondition: the scenario was validated by the loader (the pipeline
  // builds, it is a tumbling count in append mode with late events routed).
  explicit PipelineWorkload(const proto::PipelineWorkload& cfg, const proto::RunConfig& run);
  ~PipelineWorkload() override;
  const char* kind() const override { return "pipeline"; }
  void setup(sim::Simulation& sim) override;
  std::vector<sim::NodeId> fault_targets() const override { return targets_; }
  std::vector<sim::NodeId> disk_loss_targets() const override { return cluster_->broker_nodes(); }
  std::vector<sim::NodeId> engine_targets() const override { return engines_; }
  // faults::SystemHooks. Engine nodes engine-0 .. engine-<instances - 1> run an
  // instance from the start; the spares engine-<instances> .. idle until a
  // scale_out(). scale_in() asks the node's instance to stop at its next batch
  // boundary (EngineInstance::request_stop: it commits or aborts the batch,
  // then leaves the group); the node then idles until scale_out() starts a new
  // instance, which joins the group like a restarted one.
  std::vector<sim::NodeId> kafka_controllers() const override { return cluster_->controller_nodes(); }
  std::vector<sim::NodeId> kafka_brokers() const override { return cluster_->broker_nodes(); }
  std::vector<std::string> leader_topics() const override { return {source_, sink_}; }
  std::string engine_group_id() const override { return app_; }
  std::vector<std::string> engine_transactional_ids(sim::NodeId engine) const override;
  Duration engine_session_timeout() const override;
  std::vector<sim::NodeId> spare_engines() const override { return spares_; }
  bool engine_active(sim::NodeId engine) const override;
  bool scale_out(sim::NodeId engine) override;
  bool scale_in(sim::NodeId engine) override;
  void begin_liveness() override;
  bool settled() const override { return history_.settled; }
  std::vector<std::pair<std::string, double>> metrics() const override;

  const PipelineHistory& history() const { return history_; }
  // Tasks fenced so far (a zombie's refused commits), over ended and running instances.
  uint64_t engine_fenced() const;

 private:
  void producer_main(sim::SimRuntime& rt, uint32_t index);
  void engine_main(sim::SimRuntime& rt, uint32_t index);
  // The boot function of engine node `index`: runs engine_main while the node
  // is wanted (not scaled in), idles otherwise. Suspends.
  void engine_node_main(sim::SimRuntime& rt, uint32_t index);
  std::optional<uint32_t> engine_index(sim::NodeId node) const;
  void final_reader_main(sim::SimRuntime& rt);

  proto::PipelineWorkload cfg_;
  proto::RunConfig run_;
  std::unique_ptr<sim::kafka::Cluster> cluster_;
  sim::Simulation* sim_ = nullptr;
  std::vector<sim::NodeId> targets_, engines_;
  std::vector<sim::NodeId> spares_;  // engine-<instances> ..
  // Engine node index -> an instance should run there (scaling; survives crashes).
  std::map<uint32_t, bool> wanted_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
  std::string source_, sink_, late_topic_, dlq_topic_, app_;
  int32_t source_partitions_ = 0;
  uint32_t n_producers_ = 1, n_instances_ = 1;
  bool liveness_ = false;
  Instant liveness_start_;
  uint32_t producers_done_ = 0;
  bool sentinels_sent_ = false;
  CondVar changed_;
  // The live incarnation of each engine node (set while its instance runs).
  std::map<uint32_t, engine::EngineInstance*> live_;
  std::map<uint32_t, uint32_t> incarnations_;
  uint64_t sends_failed_ = 0;
  PipelineHistory history_;
};

}  // namespace streamsim::scenarios
