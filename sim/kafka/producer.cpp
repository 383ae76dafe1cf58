// The simulated producer: librdkafka-like batching, retries and idempotence over the simulated network.
#include "client_common.h"

#include <streamsim/core/sync.h>
#include <streamsim/kafka/partitioner.h>

#include <deque>

namespace streamsim::sim::kafka {

namespace {

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

}  // namespace

std::unique_ptr<k::Producer> make_sim_producer(SimRuntime& rt, k::Config cfg) {
  return std::make_unique<SimProducer>(rt, std::move(cfg));
}

}  // namespace streamsim::sim::kafka
