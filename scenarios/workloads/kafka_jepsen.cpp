#include <streamsim/scenarios/kafka_jepsen.h>

#include <streamsim/core/assert.h>
#include <streamsim/kafka/config.h>
#include <streamsim/sim/kafka/client.h>

#include <spdlog/logger.h>

#include <map>

namespace streamsim::scenarios {

namespace k = streamsim::kafka;
using sim::SimRuntime;

namespace {
template <class T>
T or_default(T v, T d) {
  return v ? v : d;
}
}  // namespace

KafkaJepsenWorkload::KafkaJepsenWorkload(const proto::KafkaWorkload& cfg)
    : cfg_(cfg), n_producers_(or_default<uint32_t>(cfg.producers(), 2)), n_consumers_(cfg.consumers()) {
  auto pc = k::Config::make(k::Role::producer, producer_props());
  SS_ASSERT(pc.ok(), "producer_config was validated by the loader");
  idempotent_ = pc->idempotent();
}

KafkaJepsenWorkload::~KafkaJepsenWorkload() = default;

std::vector<std::pair<std::string, std::string>> KafkaJepsenWorkload::producer_props() const {
  std::vector<std::pair<std::string, std::string>> p = {{"bootstrap.servers", "broker-0"}};
  for (const auto& kv : cfg_.producer_config()) p.push_back({kv.key(), kv.value()});
  return p;
}

std::vector<std::pair<std::string, std::string>> KafkaJepsenWorkload::consumer_props() const {
  std::vector<std::pair<std::string, std::string>> p = {{"bootstrap.servers", "broker-0"}};
  for (const auto& kv : cfg_.consumer_config()) p.push_back({kv.key(), kv.value()});
  return p;
}

void KafkaJepsenWorkload::setup(sim::Simulation& sim) {
  sim_ = &sim;
  sim::kafka::ClusterConfig cc;
  cc.brokers = static_cast<int>(or_default<uint32_t>(cfg_.brokers(), 3));
  cc.controllers = static_cast<int>(or_default<uint32_t>(cfg_.controllers(), 3));
  cc.broker_session_timeout = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cfg_.broker_session_timeout_ms(), 1500)));
  cc.replica_lag_time_max = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cfg_.replica_lag_time_max_ms(), 1000)));
  if (cfg_.topics_size() == 0) {
    sim::kafka::TopicState t;
    t.name = "jepsen";
    t.partitions = 3;
    t.replication = static_cast<int16_t>(std::min(3, cc.brokers));
    cc.topics.push_back(t);
  }
  for (const auto& t : cfg_.topics()) {
    sim::kafka::TopicState s;
    s.name = t.name();
    s.partitions = static_cast<int32_t>(or_default<uint32_t>(t.partitions(), 3));
    s.replication = static_cast<int16_t>(or_default<uint32_t>(t.replication(), 3));
    s.min_insync_replicas = static_cast<int32_t>(or_default<uint32_t>(t.min_insync_replicas(), 1));
    s.unclean_leader_election = t.unclean_leader_election();
    s.flush_messages = static_cast<int64_t>(t.flush_messages());
    cc.topics.push_back(s);
  }
  for (const auto& t : cc.topics) {
    for (int32_t p = 0; p < t.partitions; ++p) partitions_.push_back({t.name, p});
  }
  cluster_ = std::make_unique<sim::kafka::Cluster>(sim, cc);
  // Every broker and every controller crashes, partitions and clogs; with a
  // quorum of controllers, losing the active one is a real failover.
  targets_ = cluster_->broker_nodes();
  for (sim::NodeId c : cluster_->controller_nodes()) targets_.push_back(c);
  for (uint32_t i = 0; i < n_producers_; ++i) {
    sim.add_node("producer-" + std::to_string(i), [this, i](SimRuntime& rt) { producer_main(rt, i); });
  }
  for (uint32_t i = 0; i < n_consumers_; ++i) {
    sim.add_node("consumer-" + std::to_string(i), [this, i](SimRuntime& rt) { consumer_main(rt, i); });
  }
  sim.add_node("final-reader", [this](SimRuntime& rt) { final_reader_main(rt); });
}

void KafkaJepsenWorkload::producer_main(SimRuntime& rt, uint32_t index) {
  sim::kafka::SimKafka kafka(rt);
  auto cfg = k::Config::make(k::Role::producer, producer_props());
  SS_ASSERT(cfg.ok(), "producer config validated by the loader");
  auto made = kafka.producer(*cfg);
  SS_ASSERT(made.ok(), "the simulated producer could not be created");
  std::unique_ptr<k::Producer> producer = std::move(*made);
  const Duration interval = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cfg_.send_interval_ms(), 10)));
  std::map<uint64_t, size_t> by_opaque;  // opaque -> index in history_.sends
  auto collect = [&](const std::vector<k::DeliveryReport>& reports) {
    for (const auto& d : reports) {
      auto it = by_opaque.find(d.opaque);
      SS_ASSERT(it != by_opaque.end(), "delivery report for an unknown send");
      Send& s = history_.sends[it->second];
      s.tp = {d.tp.topic, d.tp.partition};
      if (!d.error) {
        s.outcome = SendOutcome::acked;
        s.offset = d.offset.value;
      } else {
        // A definite failure only if librdkafka says the message was not persisted.
        s.outcome = d.status == k::Persistence::not_persisted ? SendOutcome::failed : SendOutcome::unknown;
      }
      by_opaque.erase(it);
    }
  };
  uint64_t n = 0;
  while (!liveness_) {
    const TopicPartition& tp = partitions_[(n + index) % partitions_.size()];
    k::ProducerRecord r;
    r.topic = tp.topic;
    r.partition = tp.partition;
    r.key = "k" + std::to_string(n % 97);
    r.value = "p" + std::to_string(index) + "-" + std::to_string(n);
    r.opaque = history_.sends.size();
    Send s;
    s.producer = index;
    s.value = *r.value;
    s.tp = tp;
    s.send_index = n;
    if (producer->produce(r).ok()) {
      by_opaque[r.opaque] = history_.sends.size();
      history_.sends.push_back(s);
      ++n;
    }
    collect(producer->poll(Duration::zero()));
    rt.sleep_for(interval);
  }
  // Liveness: stop sending, wait for every delivery report.
  (void)producer->flush(Duration::seconds(120));
  collect(producer->poll(Duration::zero()));
  ++producers_done_;
  done_.notify_all();
}

void KafkaJepsenWorkload::consumer_main(SimRuntime& rt, uint32_t index) {
  sim::kafka::SimKafka kafka(rt);
  auto cfg = k::Config::make(k::Role::consumer, consumer_props());
  SS_ASSERT(cfg.ok(), "consumer config validated by the loader");
  auto made = kafka.consumer(*cfg);
  SS_ASSERT(made.ok(), "the simulated consumer could not be created");
  std::unique_ptr<k::Consumer> consumer = std::move(*made);
  std::vector<k::TopicPartitionOffset> parts;
  for (const auto& tp : partitions_) parts.push_back({{tp.topic, tp.partition}, k::KafkaOffset::beginning(), std::nullopt});
  (void)consumer->assign(parts);
  history_.assignments.push_back(Assignment{index, -1, partitions_});
  while (!(liveness_ && producers_done_ == n_producers_)) {
    auto recs = consumer->poll(Duration::millis(100), 500);
    if (!recs.ok()) continue;
    for (const auto& r : *recs) {
      Poll p;
      p.consumer = index;
      p.tp = {r.tp.topic, r.tp.partition};
      p.offset = r.offset.value;
      p.value = r.value.value_or("");
      p.generation = -1;
      p.seq = poll_seq_++;
      history_.polls.push_back(std::move(p));
    }
  }
}

void KafkaJepsenWorkload::final_reader_main(SimRuntime& rt) {
  while (!(liveness_ && producers_done_ == n_producers_)) done_.wait(rt);
  sim::kafka::SimKafka kafka(rt);
  auto acfg = k::Config::make(k::Role::admin, consumer_props());
  auto ccfg = k::Config::make(k::Role::consumer, consumer_props());
  SS_ASSERT(acfg.ok() && ccfg.ok(), "configs validated by the loader");
  auto admin = std::move(*kafka.admin(*acfg));
  // The end of every partition, as its leader sees it once the faults healed.
  std::map<TopicPartition, int64_t> ends;
  for (int attempt = 0; attempt < 100 && ends.size() < partitions_.size(); ++attempt) {
    std::vector<k::TopicPartition> want;
    for (const auto& tp : partitions_) {
      if (!ends.count(tp)) want.push_back({tp.topic, tp.partition});
    }
    auto r = admin->list_offsets(want, k::OffsetSpec::latest, true, Duration::seconds(1));
    if (r.ok()) {
      for (const auto& o : *r) {
        if (!o.error) ends[{o.tp.topic, o.tp.partition}] = o.offset.value;
      }
    }
    if (ends.size() < partitions_.size()) rt.sleep_for(Duration::millis(100));
  }
  if (ends.size() < partitions_.size()) {
    final_error_ = "could not learn the end offset of every partition";
  }
  auto consumer = std::move(*kafka.consumer(*ccfg));
  std::vector<k::TopicPartitionOffset> parts;
  for (const auto& [tp, end] : ends) parts.push_back({{tp.topic, tp.partition}, k::KafkaOffset::beginning(), std::nullopt});
  (void)consumer->assign(parts);
  std::map<TopicPartition, int64_t> next;
  for (const auto& [tp, end] : ends) {
    history_.final_log[tp];  // present even when empty
    next[tp] = 0;
  }
  auto complete = [&] {
    for (const auto& [tp, end] : ends) {
      if (next[tp] < end) return false;
    }
    return true;
  };
  for (int round = 0; round < 2000 && !complete(); ++round) {
    auto recs = consumer->poll(Duration::millis(100), 1000);
    if (!recs.ok()) continue;
    for (const auto& r : *recs) {
      TopicPartition tp{r.tp.topic, r.tp.partition};
      history_.final_log[tp][r.offset.value] = r.value.value_or("");
      next[tp] = std::max(next[tp], r.offset.value + 1);
    }
  }
  if (!complete() && final_error_.empty()) final_error_ = "the final read did not reach the end of every partition";
  // A partition the final read could not cover counts as unreadable.
  for (const auto& [tp, end] : ends) {
    if (next[tp] < end) history_.final_log.erase(tp);
  }
  for (const auto& tp : partitions_) {
    if (!ends.count(tp)) history_.final_log.erase(tp);
  }
  final_done_ = true;
  sim_->kernel().request_stop();
}

void KafkaJepsenWorkload::begin_liveness() {
  liveness_ = true;
  done_.notify_all();
}

std::vector<std::pair<std::string, double>> KafkaJepsenWorkload::metrics() const {
  double acked = 0, failed = 0, unknown = 0;
  for (const auto& s : history_.sends) {
    if (s.outcome == SendOutcome::acked) ++acked;
    else if (s.outcome == SendOutcome::failed) ++failed;
    else ++unknown;
  }
  return {{"sends", static_cast<double>(history_.sends.size())},
          {"sends_acked", acked},
          {"sends_failed", failed},
          {"sends_unknown", unknown},
          {"polls", static_cast<double>(history_.polls.size())}};
}

}  // namespace streamsim::scenarios
