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

// Bounds on the transactional producer's and the group members' loops.
constexpr int kMaxInitAttempts = 20;
constexpr int kMaxEndAttempts = 5;
constexpr uint32_t kMaxIncarnations = 10'000;
constexpr Duration kTxnCallTimeout = Duration::seconds(5);
constexpr Duration kCommitTimeout = Duration::seconds(2);
constexpr Duration kCloseTimeout = Duration::seconds(5);

KafkaJepsenWorkload::KafkaJepsenWorkload(const proto::KafkaWorkload& cfg)
    : cfg_(cfg),
      n_producers_(or_default<uint32_t>(cfg.producers(), 2)),
      n_consumers_(cfg.consumers()),
      n_members_(cfg.group_consumers()) {
  auto pc = k::Config::make(k::Role::producer, producer_props(0));
  SS_ASSERT(pc.ok(), "producer_config was validated by the loader");
  transactional_ = pc->transactional();
  SS_ASSERT(transactional_ == (cfg_.transactional() || !pc->str("transactional.id").empty()),
            "a transactional.id is set exactly when the workload is transactional");
  idempotent_ = pc->idempotent();
  next_consumer_id_ = n_consumers_;
  // Group members run with enable.auto.commit off and record every commit they ask for.
  history_.commits_complete = true;
}

KafkaJepsenWorkload::~KafkaJepsenWorkload() = default;

// With transactions each producer gets its own transactional.id, so producers
// do not fence each other; the configured one (if any) is the prefix.
std::vector<std::pair<std::string, std::string>> KafkaJepsenWorkload::producer_props(uint32_t index) const {
  std::vector<std::pair<std::string, std::string>> p = {{"bootstrap.servers", "broker-0"}};
  std::string prefix = cfg_.transactional() ? "jepsen-txn" : "";
  for (const auto& kv : cfg_.producer_config()) {
    if (kv.key() == "transactional.id") {
      prefix = kv.value();
      continue;
    }
    p.push_back({kv.key(), kv.value()});
  }
  if (!prefix.empty()) p.push_back({"transactional.id", prefix + "-" + std::to_string(index)});
  return p;
}

std::vector<std::pair<std::string, std::string>> KafkaJepsenWorkload::consumer_props() const {
  std::vector<std::pair<std::string, std::string>> p = {{"bootstrap.servers", "broker-0"}};
  for (const auto& kv : cfg_.consumer_config()) p.push_back({kv.key(), kv.value()});
  return p;
}

// Group members commit explicitly (so every commit is in the history and the
// checker knows where a new owner may start) and start from the beginning when
// nothing is committed (the checker assumes offset 0 then). Later keys win.
std::vector<std::pair<std::string, std::string>> KafkaJepsenWorkload::group_props() const {
  auto p = consumer_props();
  p.push_back({"group.id", cfg_.group_id().empty() ? std::string("jepsen-group") : cfg_.group_id()});
  p.push_back({"enable.auto.commit", "false"});
  p.push_back({"auto.offset.reset", "earliest"});
  return p;
}

// The final read is read_committed whatever the consumers were given: it
// defines which data ended up committed.
std::vector<std::pair<std::string, std::string>> KafkaJepsenWorkload::final_reader_props() const {
  auto p = consumer_props();
  p.push_back({"isolation.level", "read_committed"});
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
    sim.add_node("producer-" + std::to_string(i), [this, i](SimRuntime& rt) {
      if (transactional_) {
        txn_producer_main(rt, i);
      } else {
        producer_main(rt, i);
      }
    });
  }
  for (uint32_t i = 0; i < n_consumers_; ++i) {
    sim.add_node("consumer-" + std::to_string(i), [this, i](SimRuntime& rt) { consumer_main(rt, i); });
  }
  for (uint32_t i = 0; i < n_members_; ++i) {
    sim.add_node("member-" + std::to_string(i), [this, i](SimRuntime& rt) { member_main(rt, i); });
  }
  sim.add_node("final-reader", [this](SimRuntime& rt) { final_reader_main(rt); });
}

// The n-th record of producer `index` and its history entry: a unique value,
// spread round-robin over the partitions, opaque = its index in the history.
std::pair<k::ProducerRecord, Send> KafkaJepsenWorkload::next_send(uint32_t index, uint64_t n) const {
  SS_ASSERT(!partitions_.empty(), "a producer needs partitions to write to");
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
  return {std::move(r), std::move(s)};
}

void KafkaJepsenWorkload::producer_main(SimRuntime& rt, uint32_t index) {
  sim::kafka::SimKafka kafka(rt);
  auto cfg = k::Config::make(k::Role::producer, producer_props(index));
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
    auto [r, s] = next_send(index, n);
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
  history_.consumers[index] = ConsumerInfo{false, cfg->str("isolation.level") == "read_committed", index};
  std::vector<k::TopicPartitionOffset> parts;
  for (const auto& tp : partitions_) parts.push_back({{tp.topic, tp.partition}, k::KafkaOffset::beginning(), std::nullopt});
  (void)consumer->assign(parts);
  Assignment a;
  a.consumer = index;
  a.generation = -1;
  a.partitions = partitions_;
  a.seq = seq_++;
  history_.assignments.push_back(std::move(a));
  while (!work_over()) {
    auto recs = consumer->poll(Duration::millis(100), 500);
    if (!recs.ok()) continue;
    for (const auto& r : *recs) {
      Poll p;
      p.consumer = index;
      p.tp = {r.tp.topic, r.tp.partition};
      p.offset = r.offset.value;
      p.value = r.value.value_or("");
      p.generation = -1;
      p.seq = seq_++;
      history_.polls.push_back(std::move(p));
    }
  }
}

// A transactional producer: transactions of records_per_txn values, a share
// aborted on purpose. Outcomes follow the client contract (kafka_history.h):
// committed only on a successful commit_transaction, aborted on a successful
// abort or when no commit was ever asked for, otherwise unknown. A producer
// instance that became unusable (fatal, fenced, or an end of transaction that
// could not be settled) is replaced; the new instance's init_transactions
// fences the old one and ends its open transaction.
void KafkaJepsenWorkload::txn_producer_main(SimRuntime& rt, uint32_t index) {
  sim::kafka::SimKafka kafka(rt);
  auto cfg = k::Config::make(k::Role::producer, producer_props(index));
  SS_ASSERT(cfg.ok() && cfg->transactional(), "a transactional producer config validated by the loader");
  const Duration interval = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cfg_.send_interval_ms(), 10)));
  const uint32_t per_txn = or_default<uint32_t>(cfg_.records_per_txn(), 5);
  std::unique_ptr<k::Producer> producer;
  bool ready = false;
  std::map<uint64_t, size_t> by_opaque;  // opaque -> index in history_.sends
  auto collect = [&](const std::vector<k::DeliveryReport>& reports) {
    for (const auto& d : reports) {
      auto it = by_opaque.find(d.opaque);
      SS_ASSERT(it != by_opaque.end(), "delivery report for an unknown send");
      Send& s = history_.sends[it->second];
      if (!d.error) {
        s.outcome = SendOutcome::acked;
        s.offset = d.offset.value;
      } else {
        s.outcome = d.status == k::Persistence::not_persisted ? SendOutcome::failed : SendOutcome::unknown;
      }
      by_opaque.erase(it);
    }
  };
  // Sends of a replaced instance that never got a report stay unknown.
  auto fresh = [&] {
    if (producer) collect(producer->poll(Duration::zero()));
    by_opaque.clear();
    producer.reset();
    auto made = kafka.producer(*cfg);
    SS_ASSERT(made.ok(), "the simulated producer could not be created");
    producer = std::move(*made);
    ready = false;
  };
  auto init = [&] {
    for (int attempt = 0; attempt < kMaxInitAttempts && !ready; ++attempt) {
      auto r = producer->init_transactions(kTxnCallTimeout);
      if (r.ok()) {
        ready = true;
      } else if (r.error().fatal) {
        fresh();
      } else {
        rt.sleep_for(Duration::millis(100));
      }
    }
    return ready;
  };
  fresh();
  uint64_t n = 0;
  int64_t txn = 0;
  while (!liveness_) {
    if (!ready && !init()) continue;
    if (!producer->begin_transaction().ok()) {
      fresh();
      continue;
    }
    const int64_t t = txn++;
    const size_t outcome_at = history_.txns.size();
    history_.txns.push_back(TxnOutcome{index, t, TxnOutcome::Kind::unknown, -1});
    bool must_abort = false;
    for (uint32_t j = 0; j < per_txn && !must_abort && !liveness_; ++j) {
      auto [r, s] = next_send(index, n);
      s.txn = t;
      auto produced = producer->produce(r);
      if (produced.ok()) {
        by_opaque[r.opaque] = history_.sends.size();
        history_.sends.push_back(std::move(s));
        ++n;
      } else if (produced.error().fatal || produced.error().txn_requires_abort ||
                 produced.error().code == k::Errc::local_state) {
        must_abort = true;
      }
      collect(producer->poll(Duration::zero()));
      rt.sleep_for(interval);
    }
    bool abort = must_abort || rt.random().bernoulli(cfg_.abort_fraction());
    bool committed = false, settled = true;
    if (!abort) {
      history_.txns[outcome_at].commit_seq = static_cast<int64_t>(seq_++);
      settled = false;
      for (int attempt = 0; attempt < kMaxEndAttempts; ++attempt) {
        auto r = producer->commit_transaction(kTxnCallTimeout);
        if (r.ok()) {
          committed = settled = true;
          break;
        }
        if (r.error().fatal) break;
        if (r.error().txn_requires_abort) {
          abort = true;
          break;
        }
        if (!r.error().retriable) break;
      }
    }
    bool aborted = false;
    if (abort) {
      for (int attempt = 0; attempt < kMaxEndAttempts; ++attempt) {
        auto r = producer->abort_transaction(kTxnCallTimeout);
        if (r.ok()) {
          aborted = settled = true;
          break;
        }
        if (r.error().fatal || !r.error().retriable) break;
      }
    }
    TxnOutcome& o = history_.txns[outcome_at];
    SS_ASSERT(!(committed && aborted), "one transaction both committed and aborted");
    if (committed) {
      o.kind = TxnOutcome::Kind::committed;
    } else if (aborted || o.commit_seq < 0) {
      // Without a commit request only an abort, a fencing init or the
      // transaction timeout can end it.
      o.kind = TxnOutcome::Kind::aborted;
    } else {
      o.kind = TxnOutcome::Kind::unknown;
    }
    collect(producer->poll(Duration::zero()));
    if (!settled) fresh();
  }
  // A replaced instance may have left a transaction open; a new instance's
  // init_transactions ends it, so the final read need not wait for its timeout.
  if (!ready) (void)init();
  collect(producer->poll(Duration::zero()));
  ++producers_done_;
  done_.notify_all();
}

// A group member's RebalanceListener: records each assigned / revoked / lost
// event with the generation GroupMetadata names, tracks the generation polls
// read under, and commits what was read (the next offset of each partition
// read in this assignment) on a timer and before a revoke completes.
class KafkaJepsenWorkload::Member final : public k::RebalanceListener {
 public:
  Member(KafkaJepsenWorkload& w, uint32_t id) : w_(w), id_(id) {}

  void on_assigned(k::Consumer& c, const std::vector<k::TopicPartition>& parts) override {
    generation_ = c.group_metadata().generation;
    next_.clear();
    asked_.clear();
    record(c, Assignment::Kind::assigned, parts);
  }
  void on_revoked(k::Consumer& c, const std::vector<k::TopicPartition>& parts) override {
    commit(c);
    record(c, Assignment::Kind::revoked, parts);
    generation_ = -1;
    next_.clear();
  }
  // The partitions are already someone else's: nothing is committed.
  void on_lost(k::Consumer& c, const std::vector<k::TopicPartition>& parts) override {
    record(c, Assignment::Kind::lost, parts);
    generation_ = -1;
    next_.clear();
  }

  void polled(const k::Consumer& c, const k::ConsumerRecord& r) {
    // poll() serves rebalance callbacks before it fetches, so a record always
    // comes from the assignment the last on_assigned announced.
    SS_ASSERT(generation_ != kNone, "a group member polled a record before any assignment");
    Poll p;
    p.consumer = id_;
    p.tp = {r.tp.topic, r.tp.partition};
    p.offset = r.offset.value;
    p.value = r.value.value_or("");
    p.generation = generation_;
    p.seq = w_.seq_++;
    p.member_id = c.group_metadata().member_id;
    next_[p.tp] = std::max(next_[p.tp], p.offset + 1);
    w_.history_.polls.push_back(std::move(p));
  }

  // Commits the next offset of each partition read since the last commit.
  // Suspends (commit_sync).
  void commit(k::Consumer& c) {
    std::vector<k::TopicPartitionOffset> offsets;
    for (const auto& [tp, next] : next_) {
      auto it = asked_.find(tp);
      if (it == asked_.end() || it->second != next) offsets.push_back({{tp.topic, tp.partition}, k::KafkaOffset{next}, std::nullopt});
    }
    if (offsets.empty()) return;
    const auto meta = c.group_metadata();
    const uint64_t seq = w_.seq_++;
    auto r = c.commit_sync(offsets, kCommitTimeout);
    const auto outcome = r.ok() ? Commit::Outcome::ok
                         : r.error().code == k::Errc::local_timed_out ? Commit::Outcome::unknown
                                                                       : Commit::Outcome::failed;
    for (const auto& o : offsets) {
      SS_ASSERT(o.offset.value > 0, "a member commits the offset after a record it read");
      TopicPartition tp{o.tp.topic, o.tp.partition};
      w_.history_.commits.push_back(Commit{id_, meta.member_id, generation_, tp, o.offset.value, seq, outcome});
      asked_[tp] = o.offset.value;
    }
  }

 private:
  static constexpr int32_t kNone = -2;  // before the first on_assigned

  void record(k::Consumer& c, Assignment::Kind kind, const std::vector<k::TopicPartition>& parts) {
    Assignment a;
    a.consumer = id_;
    a.generation = kind == Assignment::Kind::assigned ? generation_ : std::max(generation_, -1);
    for (const auto& tp : parts) a.partitions.push_back({tp.topic, tp.partition});
    a.kind = kind;
    a.member_id = c.group_metadata().member_id;
    a.seq = w_.seq_++;
    w_.history_.assignments.push_back(std::move(a));
  }

  KafkaJepsenWorkload& w_;
  uint32_t id_;
  int32_t generation_ = kNone;
  std::map<TopicPartition, int64_t> next_;   // next offset to read, per partition read in this assignment
  std::map<TopicPartition, int64_t> asked_;  // last offset asked to commit, per partition
};

// A slot of the group: one consumer after another subscribes, polls for its
// lifetime, closes (revoking, so it commits), and hands over to a successor.
void KafkaJepsenWorkload::member_main(SimRuntime& rt, uint32_t slot) {
  sim::kafka::SimKafka kafka(rt);
  auto cfg = k::Config::make(k::Role::consumer, group_props());
  SS_ASSERT(cfg.ok(), "group member config validated by the loader");
  SS_ASSERT(!cfg->flag("enable.auto.commit"), "every group commit must be in the history");
  const bool read_committed = cfg->str("isolation.level") == "read_committed";
  const int64_t lifetime_ms = static_cast<int64_t>(cfg_.member_lifetime_ms());
  const Duration rejoin = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cfg_.rejoin_delay_ms(), 100)));
  const Duration commit_every = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cfg_.commit_interval_ms(), 100)));
  std::vector<std::string> topics;
  for (const auto& tp : partitions_) {
    if (topics.empty() || topics.back() != tp.topic) topics.push_back(tp.topic);
  }
  for (uint32_t incarnation = 0; incarnation < kMaxIncarnations && !work_over(); ++incarnation) {
    const uint32_t id = next_consumer_id_++;
    history_.consumers[id] = ConsumerInfo{true, read_committed, slot};
    auto made = kafka.consumer(*cfg);
    SS_ASSERT(made.ok(), "the simulated consumer could not be created");
    std::unique_ptr<k::Consumer> consumer = std::move(*made);
    Member member(*this, id);
    auto sub = consumer->subscribe(topics, &member);
    SS_ASSERT(sub.ok(), "subscribe with a group.id and topics cannot fail");
    const Instant end = lifetime_ms > 0 ? rt.now() + Duration::millis(rt.random().uniform_int(lifetime_ms / 2, lifetime_ms * 3 / 2))
                                        : Instant::never();
    Instant next_commit = rt.now() + commit_every;
    while (!work_over() && rt.now() < end) {
      auto recs = consumer->poll(Duration::millis(100), 500);
      if (recs.ok()) {
        for (const auto& r : *recs) member.polled(*consumer, r);
      }
      if (rt.now() >= next_commit) {
        member.commit(*consumer);
        next_commit = rt.now() + commit_every;
      }
    }
    // close() revokes through the listener (which commits) and leaves the group.
    (void)consumer->close(kCloseTimeout);
    consumer.reset();
    if (!work_over()) rt.sleep_for(rejoin);
  }
}

void KafkaJepsenWorkload::final_reader_main(SimRuntime& rt) {
  while (!work_over()) done_.wait(rt);
  sim::kafka::SimKafka kafka(rt);
  auto acfg = k::Config::make(k::Role::admin, consumer_props());
  auto ccfg = k::Config::make(k::Role::consumer, final_reader_props());
  SS_ASSERT(acfg.ok() && ccfg.ok(), "configs validated by the loader");
  SS_ASSERT(ccfg->str("isolation.level") == "read_committed", "the final read defines what committed");
  auto admin = std::move(*kafka.admin(*acfg));
  // The end of every partition once the faults healed: its high watermark, once
  // the last stable offset has caught up with it. A transaction still open
  // (until its producer's fencing init or its timeout ends it) holds the last
  // stable offset back, and reading only up to it would miss committed data
  // written after the open transaction began.
  std::map<TopicPartition, int64_t> ends;
  for (int attempt = 0; attempt < 500 && ends.size() < partitions_.size(); ++attempt) {
    std::vector<k::TopicPartition> want;
    for (const auto& tp : partitions_) {
      if (!ends.count(tp)) want.push_back({tp.topic, tp.partition});
    }
    auto stable = admin->list_offsets(want, k::OffsetSpec::latest, true, Duration::seconds(1));
    auto high = admin->list_offsets(want, k::OffsetSpec::latest, false, Duration::seconds(1));
    if (stable.ok() && high.ok()) {
      std::map<TopicPartition, int64_t> hw;
      for (const auto& o : *high) {
        if (!o.error) hw[{o.tp.topic, o.tp.partition}] = o.offset.value;
      }
      for (const auto& o : *stable) {
        TopicPartition tp{o.tp.topic, o.tp.partition};
        auto h = hw.find(tp);
        if (!o.error && h != hw.end() && h->second == o.offset.value) ends[tp] = o.offset.value;
      }
    }
    if (ends.size() < partitions_.size()) rt.sleep_for(Duration::millis(100));
  }
  if (ends.size() < partitions_.size()) {
    final_error_ = "could not learn the end offset of every partition with no transaction open";
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
    // A partition may end with a transaction marker, which is never returned:
    // the consumer's position, past every batch it examined, tells the progress.
    for (auto& [tp, n] : next) {
      auto pos = consumer->position({tp.topic, tp.partition});
      if (pos.ok() && pos->value >= 0) n = std::max(n, pos->value);
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
  std::vector<std::pair<std::string, double>> out = {{"sends", static_cast<double>(history_.sends.size())},
                                                     {"sends_acked", acked},
                                                     {"sends_failed", failed},
                                                     {"sends_unknown", unknown},
                                                     {"polls", static_cast<double>(history_.polls.size())}};
  if (transactional_) {
    double committed = 0, aborted = 0, open = 0;
    for (const auto& t : history_.txns) {
      if (t.kind == TxnOutcome::Kind::committed) ++committed;
      else if (t.kind == TxnOutcome::Kind::aborted) ++aborted;
      else ++open;
    }
    out.push_back({"txns_committed", committed});
    out.push_back({"txns_aborted", aborted});
    out.push_back({"txns_unknown", open});
  }
  if (n_members_ > 0) {
    double assigned = 0;
    for (const auto& a : history_.assignments) assigned += a.kind == Assignment::Kind::assigned && a.generation >= 0;
    out.push_back({"group_members", static_cast<double>(next_consumer_id_ - n_consumers_)});
    out.push_back({"group_assignments", assigned});
    out.push_back({"group_commits", static_cast<double>(history_.commits.size())});
  }
  return out;
}

}  // namespace streamsim::scenarios
