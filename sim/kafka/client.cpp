#include <streamsim/sim/kafka/client.h>

#include <streamsim/core/assert.h>
#include <streamsim/core/sync.h>
#include <streamsim/kafka/partitioner.h>

#include <algorithm>
#include <deque>
#include <sstream>

namespace streamsim::sim::kafka {

namespace k = streamsim::kafka;

namespace {

k::Error err(Errc code, std::string msg, bool retriable = false) {
  k::Error e;
  e.code = code;
  e.message = std::move(msg);
  e.retriable = retriable;
  return e;
}

bool retriable(Errc e) {
  switch (e) {
    case Errc::not_leader_or_follower:
    case Errc::leader_not_available:
    case Errc::unknown_topic_or_partition:
    case Errc::request_timed_out:
    case Errc::not_enough_replicas:
    case Errc::not_enough_replicas_after_append:
    case Errc::fenced_leader_epoch:
    case Errc::unknown_leader_epoch:
    case Errc::local_transport:
    case Errc::local_timed_out:
      return true;
    default:
      return false;
  }
}

// Metadata shared by the clients of one node: which broker leads what.
class MetadataCache {
 public:
  MetadataCache(SimRuntime& rt, const k::Config& cfg) : rt_(rt) {
    std::stringstream ss(cfg.str("bootstrap.servers"));
    std::string name;
    while (std::getline(ss, name, ',')) {
      auto colon = name.find(':');
      if (colon != std::string::npos) name = name.substr(0, colon);
      if (SimRuntime* n = rt.sim().find(name)) bootstrap_.push_back(n->id());
    }
    request_timeout_ = Duration::millis(std::min<int64_t>(cfg.num("socket.timeout.ms"), 5000));
  }
  bool has_bootstrap() const { return !bootstrap_.empty(); }
  const MetadataImage* image() const { return image_.get(); }
  // Asks the bootstrap brokers in turn; keeps the newest image. Suspends.
  bool refresh() {
    for (size_t i = 0; i < bootstrap_.size(); ++i) {
      NodeId b = bootstrap_[(next_ + i) % bootstrap_.size()];
      auto r = rt_.net().call(rt_, rt_.id(), b, kBrokerPort, std::make_shared<MetadataReq>(), request_timeout_);
      if (!r.ok()) continue;
      auto img = payload_as<MetadataResp>(*r).image;
      if (!img) continue;
      next_ = (next_ + i + 1) % bootstrap_.size();
      if (!image_ || img->version >= image_->version) image_ = img;
      return true;
    }
    return false;
  }
  std::optional<NodeId> node_of(BrokerId b) const {
    if (b < 0) return std::nullopt;
    SimRuntime* n = rt_.sim().find("broker-" + std::to_string(b));
    if (n == nullptr) return std::nullopt;
    return n->id();
  }
  std::optional<NodeId> leader_node(const TopicPartition& tp) const {
    if (!image_) return std::nullopt;
    auto it = image_->partitions.find(tp);
    if (it == image_->partitions.end()) return std::nullopt;
    return node_of(it->second.leader);
  }
  int32_t leader_epoch(const TopicPartition& tp) const {
    if (!image_) return -1;
    auto it = image_->partitions.find(tp);
    return it == image_->partitions.end() ? -1 : it->second.leader_epoch;
  }
  int32_t partitions(const std::string& topic) const {
    if (!image_) return 0;
    auto it = image_->topics.find(topic);
    return it == image_->topics.end() ? 0 : it->second.partitions;
  }
  NodeId any_broker() const { return bootstrap_.at(next_ % bootstrap_.size()); }
  Duration request_timeout() const { return request_timeout_; }

 private:
  SimRuntime& rt_;
  std::vector<NodeId> bootstrap_;
  size_t next_ = 0;
  Duration request_timeout_;
  std::shared_ptr<const MetadataImage> image_;
};

// ------------------------------------------------------------------ producer

class SimProducer final : public k::Producer {
 public:
  SimProducer(SimRuntime& rt, k::Config cfg)
      : rt_(rt), cfg_(std::move(cfg)), meta_(rt, cfg_), partitioner_(*k::parse_partitioner(cfg_.str("partitioner"))),
        rng_(Rng::stream(rt.random().next_u64(), "producer")) {
    acks_ = cfg_.acks();
    linger_ = Duration::millis(cfg_.num("linger.ms"));
    batch_max_ = static_cast<size_t>(cfg_.num("batch.num.messages"));
    queue_max_ = static_cast<size_t>(cfg_.num("queue.buffering.max.messages"));
    retries_ = cfg_.num("retries");
    backoff_ = Duration::millis(cfg_.num("retry.backoff.ms"));
    msg_timeout_ = cfg_.num("message.timeout.ms") == 0 ? Duration::max() : Duration::millis(cfg_.num("message.timeout.ms"));
    request_timeout_ = Duration::millis(cfg_.num("request.timeout.ms"));
    idempotent_ = cfg_.idempotent();
    sender_ = rt_.spawn("producer-sender", [this] { sender(); });
  }
  ~SimProducer() override {
    // The helper tasks reference this object: wait until they have unwound. If
    // this task is itself being cancelled (a crash), join throws; the helpers are
    // younger and the kernel unwinds the youngest first, so they are gone already.
    for (TaskHandle* h : all_tasks()) {
      if (h->done()) continue;
      h->cancel();
      try {
        h->join();
      } catch (const TaskCancelled&) {
        SS_ASSERT(h->done(), "a producer task outlived its producer");
      }
    }
  }

  Result<void, k::Error> produce(k::ProducerRecord r) override {
    if (fatal_) return unexpected(*fatal_);
    if (cfg_.transactional()) return unexpected(err(Errc::local_state, "transactions are not simulated yet"));
    if (outstanding_ >= queue_max_) return unexpected(err(Errc::local_queue_full, "queue.buffering.max.messages reached", true));
    Msg m;
    m.rec.key = r.key;
    m.rec.value = r.value;
    for (auto& h : r.headers) m.rec.headers.push_back({h.key, h.value.value_or("")});
    m.rec.timestamp_ms = r.timestamp_ms.value_or(rt_.now().ns() / 1'000'000);
    m.opaque = r.opaque;
    m.enqueued = rt_.now();
    m.topic = r.topic;
    m.partition = r.partition.value_or(-1);
    ++outstanding_;
    unpartitioned_.push_back(std::move(m));
    work_.notify_all();
    return {};
  }

  std::vector<k::DeliveryReport> poll(Duration timeout) override {
    const Instant deadline = rt_.now() + timeout;
    while (reports_.empty()) {
      if (reports_cv_.wait_until(rt_, deadline) == WakeReason::timed_out) break;
    }
    std::vector<k::DeliveryReport> out;
    out.swap(reports_);
    return out;
  }

  Result<void, k::Error> flush(Duration timeout) override {
    const Instant deadline = rt_.now() + timeout;
    while (outstanding_ > 0) {
      if (done_cv_.wait_until(rt_, deadline) == WakeReason::timed_out && outstanding_ > 0)
        return unexpected(err(Errc::local_timed_out, std::to_string(outstanding_) + " messages still outstanding", true));
    }
    return {};
  }

  size_t outstanding() const override { return outstanding_; }

  Result<int32_t, k::Error> partition_count(const std::string& topic, Duration timeout) override {
    const Instant deadline = rt_.now() + timeout;
    for (;;) {
      if (int32_t n = meta_.partitions(topic); n > 0) return n;
      meta_.refresh();
      if (meta_.partitions(topic) > 0) continue;
      if (rt_.now() >= deadline) return unexpected(err(Errc::unknown_topic_or_partition, "unknown topic " + topic));
      rt_.sleep_for(backoff_);
    }
  }

  Result<void, k::Error> init_transactions(Duration) override { return unexpected(not_simulated()); }
  Result<void, k::Error> begin_transaction() override { return unexpected(not_simulated()); }
  Result<void, k::Error> send_offsets_to_transaction(const std::vector<k::TopicPartitionOffset>&,
                                                     const k::GroupMetadata&, Duration) override {
    return unexpected(not_simulated());
  }
  Result<void, k::Error> commit_transaction(Duration) override { return unexpected(not_simulated()); }
  Result<void, k::Error> abort_transaction(Duration) override { return unexpected(not_simulated()); }

 private:
  struct Msg {
    Record rec;
    uint64_t opaque = 0;
    Instant enqueued;
    std::string topic;
    int32_t partition = -1;
  };
  struct InFlight {
    Batch batch;
    std::vector<Msg> msgs;
    int64_t attempts = 0;
    bool sent = false;
  };
  struct PartitionQueue {
    std::deque<Msg> queue;
    std::optional<InFlight> in_flight;  // at most one request per partition
    bool busy = false;
    Instant retry_at;
    int32_t next_sequence = 0;
  };

  std::vector<TaskHandle*> all_tasks() {
    std::vector<TaskHandle*> out;
    for (auto& h : requests_) out.push_back(&h);
    out.push_back(&sender_);
    return out;
  }

  static k::Error not_simulated() { return err(Errc::local_state, "transactions are not simulated yet"); }

  void report(std::vector<Msg>& msgs, const TopicPartition& tp, int64_t base, std::optional<k::Error> e,
              k::Persistence status) {
    for (size_t i = 0; i < msgs.size(); ++i) {
      k::DeliveryReport d;
      d.tp = {tp.topic, tp.partition};
      d.offset = k::KafkaOffset{e ? -1001 : (base < 0 ? -1 : base + static_cast<int64_t>(i))};
      d.timestamp_ms = msgs[i].rec.timestamp_ms;
      d.opaque = msgs[i].opaque;
      d.error = e;
      d.status = e ? status : k::Persistence::persisted;
      reports_.push_back(std::move(d));
      SS_ASSERT(outstanding_ > 0, "more delivery reports than messages");
      --outstanding_;
    }
    reports_cv_.notify_all();
    done_cv_.notify_all();
  }

  void fail_all(const k::Error& e) {
    fatal_ = e;
    for (auto& [tp, q] : queues_) {
      std::vector<Msg> msgs(q.queue.begin(), q.queue.end());
      q.queue.clear();
      report(msgs, tp, -1, e, k::Persistence::possibly_persisted);
    }
  }

  bool ensure_producer_id() {
    if (!idempotent_ || producer_id_ >= 0) return true;
    auto r = rt_.net().call(rt_, rt_.id(), meta_.any_broker(), kBrokerPort, std::make_shared<InitProducerIdReq>(),
                            meta_.request_timeout());
    if (!r.ok()) return false;
    const auto& resp = payload_as<InitProducerIdResp>(*r);
    if (resp.error != Errc::no_error) return false;
    producer_id_ = resp.producer_id;
    producer_epoch_ = resp.producer_epoch;
    return true;
  }

  // Assigns partitions to new messages once metadata knows their topics.
  void partition_new() {
    for (auto it = unpartitioned_.begin(); it != unpartitioned_.end();) {
      int32_t n = meta_.partitions(it->topic);
      if (n == 0) {
        if (rt_.now() - it->enqueued > msg_timeout_) {
          std::vector<Msg> one{std::move(*it)};
          it = unpartitioned_.erase(it);
          report(one, {one[0].topic, -1}, -1, err(Errc::unknown_topic_or_partition, "unknown topic"),
                 k::Persistence::not_persisted);
          continue;
        }
        ++it;
        continue;
      }
      int32_t p = it->partition;
      if (p < 0) {
        std::optional<std::string_view> key;
        if (it->rec.key) key = *it->rec.key;
        p = k::partition_for(partitioner_, key, n, rng_);
      }
      queues_[TopicPartition{it->topic, p}].queue.push_back(std::move(*it));
      it = unpartitioned_.erase(it);
    }
  }

  void sender() {
    for (;;) {
      if (fatal_) return;
      if (!unpartitioned_.empty()) {
        partition_new();
        if (!unpartitioned_.empty()) {
          meta_.refresh();
          partition_new();
        }
      }
      if (!ensure_producer_id()) {
        rt_.sleep_for(backoff_);
        continue;
      }
      if (stale_metadata_) {
        meta_.refresh();
        stale_metadata_ = false;
      }
      Instant next_wake = Instant::never();
      for (auto& [tp, q] : queues_) {
        if (q.busy) continue;
        // Expire queued messages that were never sent.
        while (!q.in_flight && !q.queue.empty() && rt_.now() - q.queue.front().enqueued > msg_timeout_) {
          std::vector<Msg> one{std::move(q.queue.front())};
          q.queue.pop_front();
          report(one, tp, -1, err(Errc::local_msg_timed_out, "message timed out"), k::Persistence::not_persisted);
        }
        if (!q.in_flight && !q.queue.empty()) {
          Instant ready = q.queue.front().enqueued + linger_;
          if (q.queue.size() < batch_max_ && rt_.now() < ready) {
            next_wake = std::min(next_wake, ready);
            continue;
          }
          InFlight f;
          while (!q.queue.empty() && f.msgs.size() < batch_max_) {
            f.batch.records.push_back(q.queue.front().rec);
            f.msgs.push_back(std::move(q.queue.front()));
            q.queue.pop_front();
          }
          if (idempotent_) {
            f.batch.producer_id = producer_id_;
            f.batch.producer_epoch = producer_epoch_;
            f.batch.base_sequence = q.next_sequence;
            q.next_sequence += static_cast<int32_t>(f.msgs.size());
          }
          q.in_flight = std::move(f);
        }
        if (q.in_flight) {
          if (rt_.now() < q.retry_at) {
            next_wake = std::min(next_wake, q.retry_at);
            continue;
          }
          q.busy = true;
          TopicPartition t = tp;
          requests_.push_back(rt_.spawn("produce-request", [this, t] { send(t); }));
        }
      }
      // Messages whose topic metadata is still unknown: look again after the backoff.
      if (!unpartitioned_.empty()) next_wake = std::min(next_wake, rt_.now() + backoff_);
      // Forget finished request tasks so the list stays bounded.
      requests_.erase(std::remove_if(requests_.begin(), requests_.end(), [](const TaskHandle& h) { return h.done(); }),
                      requests_.end());
      work_.wait_until(rt_, next_wake);
    }
  }

  // Sends the partition's in-flight batch once and handles the answer.
  void send(TopicPartition tp) {
    PartitionQueue& q = queues_[tp];
    SS_ASSERT(q.in_flight.has_value(), "send without a batch");
    InFlight& f = *q.in_flight;
    ++f.attempts;
    auto finish = [&](std::optional<k::Error> e, int64_t base, k::Persistence st) {
      report(f.msgs, tp, base, std::move(e), st);
      q.in_flight.reset();
      q.busy = false;
      work_.notify_all();
    };
    auto retry_later = [&](Errc code, const std::string& why) {
      const bool expired = rt_.now() - f.msgs.front().enqueued > msg_timeout_;
      if (f.attempts > retries_ || expired) {
        finish(err(expired ? Errc::local_msg_timed_out : code, why), -1,
               f.sent ? k::Persistence::possibly_persisted : k::Persistence::not_persisted);
        return;
      }
      q.retry_at = rt_.now() + backoff_;
      q.busy = false;
      stale_metadata_ = true;
      work_.notify_all();
    };
    if (stale_metadata_ || !meta_.leader_node(tp)) {
      meta_.refresh();
      stale_metadata_ = false;
    }
    auto leader = meta_.leader_node(tp);
    if (!leader) return retry_later(Errc::leader_not_available, "no leader for " + tp.topic);
    auto req = std::make_shared<ProduceReq>();
    req->acks = static_cast<int16_t>(acks_);
    req->timeout = request_timeout_;
    req->partitions.push_back(ProducePartition{tp, f.batch});
    f.sent = true;
    if (acks_ == 0) {
      rt_.net().send(rt_.id(), *leader, kBrokerPort, req);
      return finish(std::nullopt, -1, k::Persistence::possibly_persisted);
    }
    auto r = rt_.net().call(rt_, rt_.id(), *leader, kBrokerPort, req, request_timeout_);
    if (!r.ok()) return retry_later(Errc::local_transport, std::string("request failed: ") + to_string(r.error()));
    const auto& resp = payload_as<ProduceResp>(*r);
    SS_ASSERT(resp.results.size() == 1, "produce response for another request");
    const ProducePartitionResult& res = resp.results.front();
    if (res.error == Errc::no_error) return finish(std::nullopt, res.base_offset, k::Persistence::persisted);
    if (retriable(res.error)) return retry_later(res.error, k::to_string(res.error));
    if (idempotent_ && (res.error == Errc::out_of_order_sequence_number || res.error == Errc::invalid_producer_epoch ||
                        res.error == Errc::unknown_producer_id)) {
      k::Error fatal = err(Errc::local_fatal, std::string("idempotent producer fatal error: ") + k::to_string(res.error));
      fatal.fatal = true;
      finish(fatal, -1, k::Persistence::possibly_persisted);
      fail_all(fatal);
      return;
    }
    finish(err(res.error, k::to_string(res.error)), -1, k::Persistence::possibly_persisted);
  }

  SimRuntime& rt_;
  k::Config cfg_;
  MetadataCache meta_;
  k::Partitioner partitioner_;
  Rng rng_;
  int acks_ = -1;
  Duration linger_, backoff_, msg_timeout_, request_timeout_;
  size_t batch_max_ = 10000, queue_max_ = 100000;
  int64_t retries_ = 0;
  bool idempotent_ = false;
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = 0;
  bool stale_metadata_ = false;
  std::optional<k::Error> fatal_;
  size_t outstanding_ = 0;
  std::deque<Msg> unpartitioned_;
  std::map<TopicPartition, PartitionQueue> queues_;
  std::vector<k::DeliveryReport> reports_;
  CondVar work_, reports_cv_, done_cv_;
  TaskHandle sender_;
  std::vector<TaskHandle> requests_;
};

// ------------------------------------------------------------------ consumer

class SimConsumer final : public k::Consumer {
 public:
  SimConsumer(SimRuntime& rt, k::Config cfg) : rt_(rt), cfg_(std::move(cfg)), meta_(rt, cfg_) {
    read_committed_ = cfg_.str("isolation.level") == "read_committed";
    reset_ = cfg_.str("auto.offset.reset");
    max_wait_ = Duration::millis(cfg_.num("fetch.wait.max.ms"));
  }

  Result<void, k::Error> subscribe(const std::vector<std::string>&, k::RebalanceListener*) override {
    return unexpected(err(Errc::local_state, "consumer groups are not simulated yet; use assign()"));
  }
  Result<void, k::Error> unsubscribe() override { return {}; }

  Result<void, k::Error> assign(const std::vector<k::TopicPartitionOffset>& parts) override {
    assigned_.clear();
    for (const auto& p : parts) assigned_[TopicPartition{p.tp.topic, p.tp.partition}] = State{p.offset.value, false};
    return {};
  }
  std::vector<k::TopicPartition> assignment() const override {
    std::vector<k::TopicPartition> out;
    for (const auto& [tp, s] : assigned_) out.push_back({tp.topic, tp.partition});
    return out;
  }

  Result<std::vector<k::ConsumerRecord>, k::Error> poll(Duration timeout, size_t max_records) override {
    SS_ASSERT(max_records > 0, "poll for zero records");
    const Instant deadline = rt_.now() + timeout;
    std::vector<k::ConsumerRecord> out;
    for (;;) {
      if (!meta_.image()) meta_.refresh();
      // One fetch per leader, all its assigned partitions at once.
      std::map<NodeId, std::vector<TopicPartition>> by_leader;
      for (auto& [tp, s] : assigned_) {
        if (s.paused) continue;
        if (s.position < 0) resolve(tp, s);
        if (s.position < 0) continue;
        if (auto l = meta_.leader_node(tp)) by_leader[*l].push_back(tp);
      }
      bool refresh = by_leader.empty() && !assigned_.empty();
      for (auto& [leader, tps] : by_leader) {
        auto req = std::make_shared<FetchReq>();
        req->replica = -1;
        req->read_committed = read_committed_;
        Duration left = deadline - rt_.now();
        req->max_wait = std::max(Duration::zero(), std::min(max_wait_, left));
        for (auto& tp : tps) req->partitions.push_back(FetchPartition{tp, assigned_[tp].position, meta_.leader_epoch(tp), -1});
        auto r = rt_.net().call(rt_, rt_.id(), leader, kBrokerPort, req, req->max_wait + meta_.request_timeout());
        if (!r.ok()) {
          refresh = true;
          continue;
        }
        for (const FetchPartitionResult& res : payload_as<FetchResp>(*r).results) {
          auto it = assigned_.find(res.tp);
          if (it == assigned_.end()) continue;
          State& s = it->second;
          if (res.error == Errc::offset_out_of_range) {
            s.position = -1;  // auto.offset.reset applies at the next round
            if (reset_ == "error") return unexpected(err(Errc::offset_out_of_range, "offset out of range"));
            continue;
          }
          if (res.error != Errc::no_error) {
            refresh = true;
            continue;
          }
          for (const Batch& b : res.batches) {
            for (size_t i = 0; i < b.records.size() && out.size() < max_records; ++i) {
              int64_t off = b.base_offset + static_cast<int64_t>(i);
              if (off < s.position) continue;
              k::ConsumerRecord cr;
              cr.tp = {res.tp.topic, res.tp.partition};
              cr.offset = k::KafkaOffset{off};
              cr.key = b.records[i].key;
              cr.value = b.records[i].value;
              for (auto& h : b.records[i].headers) cr.headers.push_back({h.first, h.second});
              cr.timestamp_ms = b.records[i].timestamp_ms;
              cr.leader_epoch = b.leader_epoch;
              out.push_back(std::move(cr));
              s.position = off + 1;
            }
          }
        }
        if (out.size() >= max_records) break;
      }
      if (!out.empty() || rt_.now() >= deadline) return out;
      if (refresh) {
        meta_.refresh();
        rt_.sleep_for(std::min(Duration::millis(20), deadline - rt_.now()));
      }
    }
  }

  Result<void, k::Error> commit_sync(const std::vector<k::TopicPartitionOffset>&, Duration) override {
    return unexpected(err(Errc::local_state, "offset commits need consumer groups, not simulated yet"));
  }
  Result<void, k::Error> commit_async(const std::vector<k::TopicPartitionOffset>&) override {
    return unexpected(err(Errc::local_state, "offset commits need consumer groups, not simulated yet"));
  }
  Result<std::vector<k::TopicPartitionOffset>, k::Error> committed(const std::vector<k::TopicPartition>&,
                                                                   Duration) override {
    return unexpected(err(Errc::local_state, "offset commits need consumer groups, not simulated yet"));
  }
  Result<k::KafkaOffset, k::Error> position(const k::TopicPartition& tp) const override {
    auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
    if (it == assigned_.end()) return unexpected(err(Errc::local_state, "partition not assigned"));
    return k::KafkaOffset{it->second.position < 0 ? -1001 : it->second.position};
  }
  Result<void, k::Error> seek(const k::TopicPartition& tp, k::KafkaOffset off, Duration) override {
    auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
    if (it == assigned_.end()) return unexpected(err(Errc::local_state, "partition not assigned"));
    it->second.position = off.value;
    return {};
  }
  Result<void, k::Error> pause(const std::vector<k::TopicPartition>& tps) override { return set_paused(tps, true); }
  Result<void, k::Error> resume(const std::vector<k::TopicPartition>& tps) override { return set_paused(tps, false); }
  k::GroupMetadata group_metadata() const override { return k::GroupMetadata{cfg_.str("group.id"), -1, "", std::nullopt}; }
  Result<void, k::Error> close(Duration) override {
    assigned_.clear();
    return {};
  }

 private:
  struct State {
    int64_t position = -1;  // < 0: a logical offset still to resolve
    bool paused = false;
  };

  Result<void, k::Error> set_paused(const std::vector<k::TopicPartition>& tps, bool paused) {
    for (auto& tp : tps) {
      auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
      if (it != assigned_.end()) it->second.paused = paused;
    }
    return {};
  }

  // Turns BEGINNING / END / stored / invalid into an offset, using ListOffsets
  // and auto.offset.reset for the last two.
  void resolve(const TopicPartition& tp, State& s) {
    bool latest = s.position == -1;
    if (s.position != -2 && s.position != -1) latest = (reset_ == "largest" || reset_ == "latest" || reset_ == "end");
    auto leader = meta_.leader_node(tp);
    if (!leader) return;
    auto req = std::make_shared<ListOffsetsReq>();
    req->partitions.push_back(tp);
    req->latest = latest;
    auto r = rt_.net().call(rt_, rt_.id(), *leader, kBrokerPort, req, meta_.request_timeout());
    if (!r.ok()) return;
    const auto& res = payload_as<ListOffsetsResp>(*r).results;
    if (res.size() == 1 && res[0].first == Errc::no_error) s.position = res[0].second;
  }

  SimRuntime& rt_;
  k::Config cfg_;
  MetadataCache meta_;
  bool read_committed_ = true;
  std::string reset_;
  Duration max_wait_;
  std::map<TopicPartition, State> assigned_;
};

// ------------------------------------------------------------------ admin

class SimAdmin final : public k::Admin {
 public:
  SimAdmin(SimRuntime& rt, k::Config cfg) : rt_(rt), cfg_(std::move(cfg)), meta_(rt, cfg_) {}

  Result<std::vector<std::optional<k::Error>>, k::Error> create_topics(const std::vector<k::TopicSpec>& topics,
                                                                       Duration timeout) override {
    auto req = std::make_shared<CreateTopicsReq>();
    for (const auto& t : topics) {
      TopicState s;
      s.name = t.name;
      s.partitions = t.partitions;
      s.replication = t.replication;
      if (auto it = t.config.find("min.insync.replicas"); it != t.config.end()) s.min_insync_replicas = std::stoi(it->second);
      if (auto it = t.config.find("unclean.leader.election.enable"); it != t.config.end())
        s.unclean_leader_election = it->second == "true";
      if (auto it = t.config.find("flush.messages"); it != t.config.end()) s.flush_messages = std::stoll(it->second);
      req->topics.push_back(s);
    }
    SimRuntime* controller = rt_.sim().find("controller");
    if (controller == nullptr) return unexpected(err(Errc::local_state, "no controller node"));
    auto r = rt_.net().call(rt_, rt_.id(), controller->id(), kControllerPort, req, timeout);
    if (!r.ok()) return unexpected(err(Errc::local_timed_out, "controller unreachable", true));
    std::vector<std::optional<k::Error>> out;
    for (Errc e : payload_as<CreateTopicsResp>(*r).errors) {
      out.push_back(e == Errc::no_error ? std::nullopt : std::optional<k::Error>(err(e, k::to_string(e))));
    }
    return out;
  }
  Result<std::vector<std::optional<k::Error>>, k::Error> delete_topics(const std::vector<std::string>&,
                                                                       Duration) override {
    return unexpected(err(Errc::local_state, "delete_topics is not simulated yet"));
  }
  Result<k::ClusterInfo, k::Error> describe_cluster(Duration) override {
    if (!meta_.refresh()) return unexpected(err(Errc::local_all_brokers_down, "no broker answered", true));
    k::ClusterInfo c;
    c.cluster_id = "streamsim";
    for (BrokerId b : meta_.image()->live_brokers) c.brokers.push_back({b, "broker-" + std::to_string(b), 9092});
    return c;
  }
  Result<std::vector<k::TopicInfo>, k::Error> describe_topics(const std::vector<std::string>& topics,
                                                              Duration) override {
    if (!meta_.refresh()) return unexpected(err(Errc::local_all_brokers_down, "no broker answered", true));
    std::vector<k::TopicInfo> out;
    for (const auto& name : topics) {
      k::TopicInfo t;
      t.name = name;
      for (const auto& [tp, p] : meta_.image()->partitions) {
        if (tp.topic != name) continue;
        t.partitions.push_back({tp.partition, p.leader, p.leader_epoch, p.replicas, p.isr});
      }
      out.push_back(std::move(t));
    }
    return out;
  }
  Result<std::vector<k::TopicPartitionOffset>, k::Error> list_offsets(const std::vector<k::TopicPartition>& tps,
                                                                      k::OffsetSpec spec, bool,
                                                                      Duration) override {
    meta_.refresh();
    std::vector<k::TopicPartitionOffset> out;
    for (const auto& tp : tps) {
      k::TopicPartitionOffset o;
      o.tp = tp;
      TopicPartition t{tp.topic, tp.partition};
      auto leader = meta_.leader_node(t);
      if (!leader) {
        o.error = err(Errc::leader_not_available, "no leader");
        out.push_back(o);
        continue;
      }
      auto req = std::make_shared<ListOffsetsReq>();
      req->partitions.push_back(t);
      req->latest = spec == k::OffsetSpec::latest;
      auto r = rt_.net().call(rt_, rt_.id(), *leader, kBrokerPort, req, meta_.request_timeout());
      if (!r.ok()) {
        o.error = err(Errc::local_timed_out, "leader did not answer", true);
      } else {
        auto res = payload_as<ListOffsetsResp>(*r).results.at(0);
        if (res.first == Errc::no_error) o.offset = k::KafkaOffset{res.second};
        else o.error = err(res.first, k::to_string(res.first));
      }
      out.push_back(o);
    }
    return out;
  }

 private:
  SimRuntime& rt_;
  k::Config cfg_;
  MetadataCache meta_;
};

Result<void, k::Error> check_bootstrap(SimRuntime& rt, const k::Config& cfg) {
  MetadataCache m(rt, cfg);
  if (!m.has_bootstrap())
    return unexpected(err(Errc::local_invalid_arg, "bootstrap.servers names no simulated broker: '" +
                                                       cfg.str("bootstrap.servers") + "'"));
  return {};
}

}  // namespace

Result<std::unique_ptr<k::Producer>, k::Error> SimKafka::producer(const k::Config& cfg) {
  if (cfg.role() != k::Role::producer) return unexpected(err(Errc::local_invalid_arg, "not a producer configuration"));
  if (auto b = check_bootstrap(rt_, cfg); !b.ok()) return unexpected(b.error());
  return std::unique_ptr<k::Producer>(std::make_unique<SimProducer>(rt_, cfg));
}

Result<std::unique_ptr<k::Consumer>, k::Error> SimKafka::consumer(const k::Config& cfg) {
  if (cfg.role() != k::Role::consumer) return unexpected(err(Errc::local_invalid_arg, "not a consumer configuration"));
  if (auto b = check_bootstrap(rt_, cfg); !b.ok()) return unexpected(b.error());
  return std::unique_ptr<k::Consumer>(std::make_unique<SimConsumer>(rt_, cfg));
}

Result<std::unique_ptr<k::Admin>, k::Error> SimKafka::admin(const k::Config& cfg) {
  if (auto b = check_bootstrap(rt_, cfg); !b.ok()) return unexpected(b.error());
  return std::unique_ptr<k::Admin>(std::make_unique<SimAdmin>(rt_, cfg));
}

}  // namespace streamsim::sim::kafka
