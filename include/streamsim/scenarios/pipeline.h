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

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::engine {
class EngineInstance;
}
namespace streamsim::kafka {
class Kafka;
}

namespace streamsim::scenarios {

class PipelineWorkload final : public Workload {
 public:
  // Precondition: the scenario was validated by the loader (the pipeline
  // builds, it is a tumbling count in append mode with late events routed).
  //
  // topic_prefix (live mode, harness/live_run.cpp): prepended to every topic
  // the pipeline reads and writes (through the pipeline's "source" and "sink"
  // parameters) and to the application id, so that repeated runs against one
  // cluster never mix. Empty in simulation.
  explicit PipelineWorkload(const proto::PipelineWorkload& cfg, const proto::RunConfig& run,
                            std::string topic_prefix = "");
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

  // ---- Running the workload without a Simulation (live mode). ----
  // The same producers, engine instances and final reader, on any Runtime and
  // Kafka client: setup() wires them to simulated nodes; a live harness calls
  // attach() instead and runs them as tasks of its own runtime.
  struct TopicLayout {
    std::string name;
    int32_t partitions = 0;
    int16_t replication = 0;
    int32_t min_insync_replicas = 0;
  };
  // The topics the pipeline needs on a cluster of `brokers` brokers: source,
  // sink, late and dead-letter topics with the scenario's overrides (the
  // engine creates its changelog itself).
  std::vector<TopicLayout> topic_layout(int brokers) const;
  struct External {
    std::string bootstrap;
    int brokers = 3;
    std::vector<TopicLayout> topics;  // as created (topic_layout)
    // Called by the final reader when it is done (settled or out of time).
    std::function<void()> on_final_read_done;
    // Properties the input producers take after the scenario's: the run's
    // backend can overrule a setting it cannot honour (live on the mock: no
    // idempotence, whose sequence checks the mock skips, see docs/live.md).
    std::vector<std::pair<std::string, std::string>> input_producer_overrides;
  };
  void attach(External ext);
  // The task bodies. All suspend on rt; `kafka` must outlive the call.
  // producer_main returns after the input ended (liveness began, or the
  // input's duration passed) and, for index 0, after the sentinels were sent.
  void producer_main(Runtime& rt, kafka::Kafka& kafka, uint32_t index);
  // One incarnation of engine node `index`: runs until stopped or cancelled
  // (a crash: cancel its task; the instance is abandoned without a commit).
  void engine_main(Runtime& rt, kafka::Kafka& kafka, uint32_t index);
  void final_reader_main(Runtime& rt, kafka::Kafka& kafka);
  // Input ends now (begin_liveness for a runtime that is not the simulation's).
  void begin_liveness_at(Instant now);
  bool input_done() const { return sentinels_sent_; }
  // The instances running now, by engine index (for status lines).
  const std::map<uint32_t, engine::EngineInstance*>& running_instances() const { return live_; }
  const std::string& source_topic() const { return source_; }
  const std::string& sink_topic() const { return sink_; }
  const std::string& application_id() const { return app_; }
  uint64_t sends_failed() const { return sends_failed_; }

 private:
  // The boot function of engine node `index`: runs engine_main while the node
  // is wanted (not scaled in), idles otherwise. Suspends.
  void engine_node_main(sim::SimRuntime& rt, uint32_t index);
  std::optional<uint32_t> engine_index(sim::NodeId node) const;
  void final_reader_main(sim::SimRuntime& rt);

  proto::PipelineWorkload cfg_;
  proto::RunConfig run_;
  std::vector<std::pair<std::string, std::string>> params_;  // the pipeline's, with prefixed topics
  std::unique_ptr<sim::kafka::Cluster> cluster_;
  sim::Simulation* sim_ = nullptr;
  // Where the tasks connect, the cluster's size and topics, and how the final
  // reader ends the run: from the simulated cluster (setup) or attach().
  std::string bootstrap_;
  int brokers_ = 0;
  std::vector<TopicLayout> topics_;
  std::function<void()> on_final_read_done_;
  std::vector<std::pair<std::string, std::string>> input_producer_overrides_;
  std::vector<sim::NodeId> targets_, engines_;
  std::vector<sim::NodeId> spares_;  // engine-<instances> ..
  // Engine node index -> an instance should run there (scaling; survives crashes).
  std::map<uint32_t, bool> wanted_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
  std::string source_, sink_, late_topic_, dlq_topic_, app_;
  int32_t source_partitions_ = 0;
  uint32_t n_producers_ = 1, n_instances_ = 1;
  std::string prefix_;  // live runs' topic prefix
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
