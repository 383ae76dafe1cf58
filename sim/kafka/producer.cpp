// The simulated producer: librdkafka-like batching, retries and idempotence over the simulated network,
// and transactions (KIP-98) with librdkafka's state machine and error classes:
// - init_transactions gets a producer id and epoch from the transaction
//   coordinator (fencing older producers of the transactional.id);
//   begin_transaction opens a transaction locally; the sender registers each
//   partition with AddPartitionsToTxn before its first batch to it in the
//   transaction; commit_transaction flushes, then EndTxn(commit);
//   abort_transaction purges queued messages (_PURGE_QUEUE), waits for those in
//   flight, then EndTxn(abort).
// - Retriable coordinator errors (not_coordinator, coordinator_not_available,
//   coordinator_load_in_progress, concurrent_transactions, transport errors) are
//   retried inside the call until its timeout (then _TIMED_OUT, retriable).
// - Being fenced (PRODUCER_FENCED from the coordinator, INVALID_PRODUCER_EPOCH
//   from a partition) is fatal (_FENCED): the producer is unusable.
// - A record that fails inside a transaction makes the transaction abortable
//   (txn_requires_abort): commit returns that error, abort_transaction() and
//   begin again. Its sequence numbers are lost, so after the abort the producer
//   bumps its epoch with InitProducerId naming its id and epoch (KIP-360).
#include "client_common.h"

#include <streamsim/core/sync.h>
#include <streamsim/kafka/partitioner.h>

#include <deque>
#include <functional>
#include <iterator>
#include <set>

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
    txn_ = cfg_.transactional();
    if (txn_) {
      SS_ASSERT(idempotent_, "a transactional producer is idempotent (Config enforces it)");
      txn_id_ = cfg_.str("transactional.id");
      txn_timeout_ = Duration::millis(cfg_.num("transaction.timeout.ms"));
    }
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
    if (txn_ && phase_ == Phase::abortable) {
      k::Error e = err(Errc::local_state, "the transaction failed: abort_transaction() first");
      e.txn_requires_abort = true;
      return unexpected(e);
    }
    if (txn_ && phase_ != Phase::in_txn) return unexpected(err(Errc::local_state, "produce outside a transaction"));
    if (outstanding_ >= queue_max_) return unexpected(err(Errc::local_queue_full, "queue.buffering.max.messages reached", true));
    Msg m;
    // The record is taken by value: its strings move into the queue, uncopied.
    m.rec.key = std::move(r.key);
    m.rec.value = std::move(r.value);
    for (auto& h : r.headers) m.rec.headers.push_back({std::move(h.key), h.value ? std::move(*h.value) : std::string()});
    m.rec.timestamp_ms = r.timestamp_ms.value_or(rt_.now().ns() / 1'000'000);
    m.meta.timestamp_ms = m.rec.timestamp_ms;
    m.meta.opaque = r.opaque;
    m.meta.enqueued = rt_.now();
    m.topic = topic_id(r.topic);
    m.partition = r.partition.value_or(-1);
    ++outstanding_;
    // librdkafka partitions a message in produce() when the topic's metadata is
    // known; otherwise it waits with the others for metadata, in order.
    if (!unpartitioned_.empty() || !enqueue_partitioned(m)) unpartitioned_.push_back(std::move(m));
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

  Result<void, k::Error> init_transactions(Duration timeout) override {
    if (auto e = txn_check({Phase::uninit}, "init_transactions")) return unexpected(*e);
    const Instant deadline = rt_.now() + timeout;
    auto req = std::make_shared<InitProducerIdReq>();
    req->transactional_id = txn_id_;
    req->transaction_timeout = txn_timeout_;
    auto r = coordinator_call(req, deadline, [](const Payload& p) { return payload_as_ref<InitProducerIdResp>(p).error; });
    if (!r.ok()) return unexpected(r.error());
    const auto& resp = payload_as<InitProducerIdResp>(*r);
    if (resp.error != Errc::no_error) return unexpected(txn_failure(resp.error, "InitProducerId", /*abortable=*/false));
    set_producer(resp.producer_id, resp.producer_epoch);
    phase_ = Phase::ready;
    rt_.trace("kafka/txn_client_init", static_cast<uint64_t>(producer_id_), static_cast<uint64_t>(producer_epoch_));
    return {};
  }

  Result<void, k::Error> begin_transaction() override {
    if (auto e = txn_check({Phase::ready}, "begin_transaction")) return unexpected(*e);
    SS_ASSERT(txn_added_.empty() && txn_pending_add_.empty() && !txn_offsets_, "leftovers of an earlier transaction");
    phase_ = Phase::in_txn;
    return {};
  }

  Result<void, k::Error> send_offsets_to_transaction(const std::vector<k::TopicPartitionOffset>& offsets,
                                                     const k::GroupMetadata& group, Duration timeout) override {
    if (auto e = txn_check({Phase::in_txn}, "send_offsets_to_transaction")) return unexpected(*e);
    if (group.group_id.empty()) return unexpected(err(Errc::local_invalid_arg, "group metadata without group id"));
    if (offsets.empty()) return {};  // librdkafka: nothing to send is a no-op
    const Instant deadline = rt_.now() + timeout;
    // 1. The group's __consumer_offsets partition joins the transaction.
    auto add = std::make_shared<AddOffsetsToTxnReq>();
    add->transactional_id = txn_id_;
    add->producer_id = producer_id_;
    add->producer_epoch = producer_epoch_;
    add->group_id = group.group_id;
    auto r = coordinator_call(add, deadline, [](const Payload& p) { return payload_as_ref<AddOffsetsToTxnResp>(p).error; });
    if (!r.ok()) return unexpected(r.error());
    if (Errc e = payload_as<AddOffsetsToTxnResp>(*r).error; e != Errc::no_error)
      return unexpected(txn_failure(e, "AddOffsetsToTxn", /*abortable=*/true));
    txn_offsets_ = true;
    // 2. The offsets go to the group coordinator, pending until the marker.
    auto commit = std::make_shared<TxnOffsetCommitReq>();
    commit->transactional_id = txn_id_;
    commit->group_id = group.group_id;
    commit->producer_id = producer_id_;
    commit->producer_epoch = producer_epoch_;
    commit->generation = group.generation;
    commit->member_id = group.member_id;
    for (const auto& o : offsets) commit->offsets.emplace_back(TopicPartition{o.tp.topic, o.tp.partition}, o.offset.value);
    for (int attempt = 0; attempt < kMaxCoordinatorAttempts; ++attempt) {
      if (rt_.now() >= deadline) break;
      auto gc = meta_.find_coordinator(CoordinatorType::group, group.group_id);
      if (!gc.ok()) {
        backoff_until(deadline, backoff_);
        continue;
      }
      auto c = rt_.net().call(rt_, rt_.id(), *gc, kBrokerPort, commit, call_timeout(deadline));
      if (!c.ok()) {
        backoff_until(deadline, backoff_);
        continue;
      }
      const Errc e = payload_as<TxnOffsetCommitResp>(*c).error;
      if (e == Errc::no_error) return {};
      if (coordinator_retriable(e) || e == Errc::request_timed_out || e == Errc::unknown_topic_or_partition) {
        backoff_until(deadline, e == Errc::concurrent_transactions ? kConcurrentBackoff : backoff_);
        continue;
      }
      return unexpected(txn_failure(e, "TxnOffsetCommit", /*abortable=*/true));
    }
    return unexpected(err(Errc::local_timed_out, "send_offsets_to_transaction timed out", true));
  }

  Result<void, k::Error> commit_transaction(Duration timeout) override {
    if (auto e = txn_check({Phase::in_txn, Phase::committing}, "commit_transaction")) return unexpected(*e);
    const Instant deadline = rt_.now() + timeout;
    phase_ = Phase::committing;  // a timed-out commit may be called again and resumes here
    wait_delivered(deadline);
    if (fatal_) return unexpected(*fatal_);
    if (phase_ == Phase::abortable) return unexpected(abortable_error());
    if (outstanding_ > 0)
      return unexpected(err(Errc::local_timed_out, std::to_string(outstanding_) + " messages still outstanding", true));
    if (auto e = end_txn(true, deadline)) return unexpected(*e);
    return {};
  }

  Result<void, k::Error> abort_transaction(Duration timeout) override {
    if (auto e = txn_check({Phase::in_txn, Phase::committing, Phase::abortable, Phase::aborting}, "abort_transaction"))
      return unexpected(*e);
    const Instant deadline = rt_.now() + timeout;
    phase_ = Phase::aborting;
    purge_queued();
    // Batches in flight keep their sequence numbers: wait until each is
    // acknowledged or failed, so the next transaction's sequences follow on.
    while (in_flight_batches() > 0 && !fatal_) {
      if (done_cv_.wait_until(rt_, deadline) == WakeReason::timed_out && in_flight_batches() > 0)
        return unexpected(err(Errc::local_timed_out, "in-flight messages did not finish before the timeout", true));
    }
    if (fatal_) return unexpected(*fatal_);
    if (auto e = end_txn(false, deadline)) return unexpected(*e);
    return {};
  }

 private:
  // What a delivery report and the timeouts need of a message once its record
  // has moved into a batch (24 bytes, kept per in-flight record instead of the whole Msg).
  struct MsgMeta {
    int64_t timestamp_ms = 0;
    uint64_t opaque = 0;
    Instant enqueued;
  };
  struct Msg {
    Record rec;  // moved into the batch when the message is batched
    MsgMeta meta;
    uint32_t topic = 0;  // index into topics_ (a string per message was 32 of its bytes, moved twice)
    int32_t partition = -1;
  };
  struct InFlight {
    // Immutable once built: every attempt resends the same batch (the same
    // sequence numbers, so the broker can deduplicate), without copying it.
    std::shared_ptr<const Batch> batch;
    std::vector<MsgMeta> msgs;  // one per record of the batch, in order
    int64_t attempts = 0;
    bool sent = false;
  };
  // A FIFO of messages in fixed-size chunks. A std::deque of Msg allocates a
  // node per two messages (one malloc per two produce() calls in a hot loop);
  // a growing vector copies and page-faults everything at each doubling. Here
  // a chunk of kChunk messages is allocated once, filled, drained and freed.
  class MsgQueue {
   public:
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    Msg& front() {
      SS_ASSERT(!empty(), "front of an empty queue");
      return chunks_.front()[head_];
    }
    void push_back(Msg&& m) {
      if (chunks_.empty() || chunks_.back().size() == kChunk) {
        chunks_.emplace_back();
        chunks_.back().reserve(kChunk);
      }
      chunks_.back().push_back(std::move(m));
      ++size_;
    }
    // The message is not destroyed here: its chunk is freed whole once drained,
    // and every caller moves the message out first, so it holds nothing until
    // then (resetting each slot to Msg{} cost a move of a whole Msg per message).
    void pop_front() {
      SS_ASSERT(!empty(), "pop_front on an empty queue");
      --size_;
      if (++head_ == chunks_.front().size()) {
        chunks_.pop_front();  // drained (a partly filled last chunk only when the queue is empty)
        head_ = 0;
      }
    }
    // Empties the queue, returning what the messages' delivery reports need,
    // in order (the messages themselves are dropped with their chunks).
    std::vector<MsgMeta> take_all_meta() {
      std::vector<MsgMeta> out;
      out.reserve(size_);
      for (const std::vector<Msg>& chunk : chunks_) {
        for (size_t i = (&chunk == &chunks_.front() ? head_ : 0); i < chunk.size(); ++i) out.push_back(chunk[i].meta);
      }
      SS_ASSERT(out.size() == size_, "queue size out of step with its chunks");
      chunks_.clear();
      head_ = 0;
      size_ = 0;
      return out;
    }

   private:
    static constexpr size_t kChunk = 256;
    std::deque<std::vector<Msg>> chunks_;
    size_t head_ = 0;  // taken messages at the front of the first chunk
    size_t size_ = 0;
  };
  struct PartitionQueue {
    MsgQueue queue;
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

  // --- Transactions ---
  enum class Phase { uninit, ready, in_txn, committing, aborting, abortable };
  static constexpr int kMaxCoordinatorAttempts = 100000;  // the deadline ends the loop first in practice
  static constexpr Duration kConcurrentBackoff = Duration::millis(20);

  template <class T>
  static const T& payload_as_ref(const Payload& p) {
    auto* t = dynamic_cast<const T*>(&p);
    SS_ASSERT(t != nullptr, "a response of an unexpected type");
    return *t;
  }

  static bool coordinator_retriable(Errc e) {
    return e == Errc::not_coordinator || e == Errc::coordinator_not_available ||
           e == Errc::coordinator_load_in_progress || e == Errc::concurrent_transactions;
  }

  // The error a transactional call returns in the wrong state, or nullopt.
  std::optional<k::Error> txn_check(std::initializer_list<Phase> allowed, const char* call) {
    if (!txn_) return err(Errc::local_state, std::string(call) + ": transactional.id is not configured");
    if (fatal_) return *fatal_;
    for (Phase p : allowed) {
      if (phase_ == p) return std::nullopt;
    }
    if (phase_ == Phase::abortable) return abortable_error();
    return err(Errc::local_state, std::string(call) + " in the wrong transaction state");
  }

  k::Error abortable_error() const {
    SS_ASSERT(txn_error_.has_value(), "abortable state without its error");
    k::Error e = *txn_error_;
    e.txn_requires_abort = true;
    return e;
  }

  // Classifies a coordinator or broker error met by a transactional call:
  // fencing is fatal (_FENCED), a state mismatch with the coordinator is fatal
  // too, anything else makes the transaction abortable (or, outside one, is
  // returned as it is).
  k::Error txn_failure(Errc code, const std::string& what, bool abortable) {
    const std::string msg = what + ": " + k::to_string(code);
    if (code == Errc::producer_fenced || code == Errc::invalid_producer_epoch) {
      rt_.probe("kafka.producer_fenced");
      k::Error e = err(Errc::local_fenced, msg + " (fenced by a newer producer with the same transactional.id)");
      set_fatal(e);
      return e;
    }
    if (code == Errc::invalid_producer_id_mapping || code == Errc::invalid_txn_state ||
        code == Errc::invalid_transaction_timeout) {
      k::Error e = err(code, msg);
      set_fatal(e);
      return e;
    }
    k::Error e = err(code, msg);
    if (abortable && (phase_ == Phase::in_txn || phase_ == Phase::committing)) {
      txn_error_ = e;
      phase_ = Phase::abortable;
      e.txn_requires_abort = true;
    }
    return e;
  }

  // Makes e fatal (the flag is set on the caller's error too) and fails the producer.
  void set_fatal(k::Error& e) {
    e.fatal = true;
    if (!fatal_) {
      rt_.trace("kafka/txn_client_fatal", static_cast<uint64_t>(producer_id_), static_cast<uint64_t>(-static_cast<int>(e.code)));
      fail_all(e);
    }
    work_.notify_all();
    done_cv_.notify_all();
  }

  void set_producer(int64_t id, int16_t epoch) {
    producer_id_ = id;
    producer_epoch_ = epoch;
    // A new epoch starts every partition's sequence at 0.
    for (auto& [tp, q] : queues_) {
      SS_ASSERT(!q.in_flight, "new producer epoch with a batch in flight");
      q.next_sequence = 0;
    }
    sequences_lost_ = false;
  }

  Duration call_timeout(Instant deadline) const {
    return std::max(Duration::millis(1), std::min(meta_.request_timeout(), deadline - rt_.now()));
  }
  void backoff_until(Instant deadline, Duration d) {
    if (rt_.now() < deadline) rt_.sleep_for(std::min(d, deadline - rt_.now()));
  }

  // Sends req to the transaction coordinator, finding it again and retrying on
  // coordinator errors, until another answer or the deadline (local_timed_out,
  // retriable). Suspends.
  Result<std::shared_ptr<const Payload>, k::Error> coordinator_call(std::shared_ptr<const Payload> req, Instant deadline,
                                                                    const std::function<Errc(const Payload&)>& error_of) {
    for (int attempt = 0; attempt < kMaxCoordinatorAttempts && rt_.now() < deadline; ++attempt) {
      if (!coordinator_) {
        auto c = meta_.find_coordinator(CoordinatorType::transaction, txn_id_);
        if (!c.ok()) {
          backoff_until(deadline, backoff_);
          continue;
        }
        coordinator_ = *c;
      }
      auto r = rt_.net().call(rt_, rt_.id(), *coordinator_, kBrokerPort, req, call_timeout(deadline));
      if (!r.ok()) {
        coordinator_.reset();
        backoff_until(deadline, backoff_);
        continue;
      }
      const Errc e = error_of(**r);
      if (e == Errc::not_coordinator || e == Errc::coordinator_not_available) {
        coordinator_.reset();
        backoff_until(deadline, backoff_);
        continue;
      }
      if (e == Errc::coordinator_load_in_progress || e == Errc::concurrent_transactions) {
        backoff_until(deadline, kConcurrentBackoff);
        continue;
      }
      return *r;
    }
    return unexpected(err(Errc::local_timed_out, std::string(req->type_name()) + " to the transaction coordinator timed out", true));
  }

  // Ends the transaction with EndTxn (skipped if nothing was registered), then
  // bumps the epoch if sequence numbers were lost. Returns the error, if any.
  std::optional<k::Error> end_txn(bool commit, Instant deadline) {
    if (!txn_added_.empty() || txn_offsets_) {
      auto req = std::make_shared<EndTxnReq>();
      req->transactional_id = txn_id_;
      req->producer_id = producer_id_;
      req->producer_epoch = producer_epoch_;
      req->committed = commit;
      auto r = coordinator_call(req, deadline, [](const Payload& p) { return payload_as_ref<EndTxnResp>(p).error; });
      if (!r.ok()) return r.error();
      if (Errc e = payload_as<EndTxnResp>(*r).error; e != Errc::no_error)
        return txn_failure(e, commit ? "EndTxn(commit)" : "EndTxn(abort)", /*abortable=*/commit);
    }
    if (!commit && sequences_lost_) {
      // KIP-360: a producer that lost sequence numbers bumps its epoch, naming
      // its current id and epoch so the coordinator does not treat it as a zombie.
      auto req = std::make_shared<InitProducerIdReq>();
      req->transactional_id = txn_id_;
      req->transaction_timeout = txn_timeout_;
      req->producer_id = producer_id_;
      req->producer_epoch = producer_epoch_;
      auto r = coordinator_call(req, deadline, [](const Payload& p) { return payload_as_ref<InitProducerIdResp>(p).error; });
      if (!r.ok()) return r.error();
      const auto& resp = payload_as<InitProducerIdResp>(*r);
      if (resp.error != Errc::no_error) return txn_failure(resp.error, "InitProducerId (epoch bump)", false);
      set_producer(resp.producer_id, resp.producer_epoch);
    }
    rt_.trace("kafka/txn_client_end", static_cast<uint64_t>(producer_id_), commit ? 1 : 0);
    txn_added_.clear();
    txn_pending_add_.clear();
    txn_offsets_ = false;
    txn_error_.reset();
    phase_ = Phase::ready;
    return std::nullopt;
  }

  // Waits until every record is reported, the transaction fails, or the deadline.
  void wait_delivered(Instant deadline) {
    while (outstanding_ > 0 && !fatal_ && phase_ != Phase::abortable) {
      if (done_cv_.wait_until(rt_, deadline) == WakeReason::timed_out) return;
    }
  }

  size_t in_flight_batches() const {
    size_t n = 0;
    for (const auto& [tp, q] : queues_) n += q.in_flight ? 1 : 0;
    return n;
  }

  // abort_transaction: queued records are reported with _PURGE_QUEUE.
  void purge_queued() {
    const k::Error purged = err(Errc::local_purge_queue, "purged by abort_transaction");
    while (!unpartitioned_.empty()) {
      const Msg gone = std::move(unpartitioned_.front());
      unpartitioned_.pop_front();
      report({gone.meta}, {topics_[gone.topic], -1}, -1, purged, k::Persistence::not_persisted);
    }
    for (auto& [tp, q] : queues_) {
      if (q.queue.empty()) continue;
      report(q.queue.take_all_meta(), tp, -1, purged, k::Persistence::not_persisted);
    }
    txn_pending_add_.clear();
  }

  // A record failed inside the transaction: the transaction can only be aborted,
  // and the batch's sequence numbers are gone (the epoch is bumped after the abort).
  void txn_record_failed(const k::Error& e) {
    sequences_lost_ = true;
    if (phase_ == Phase::in_txn || phase_ == Phase::committing) {
      txn_error_ = e;
      phase_ = Phase::abortable;
      done_cv_.notify_all();
    }
  }

  // Registers the partitions waiting for AddPartitionsToTxn, in one request per
  // round, until none waits or the transaction ends. Runs as its own task.
  void add_partitions_task() {
    struct Done {
      bool& b;
      ~Done() { b = false; }
    } done{adding_};
    const Instant deadline = rt_.now() + txn_timeout_;
    while (!txn_pending_add_.empty() && (phase_ == Phase::in_txn || phase_ == Phase::committing) && !fatal_) {
      auto req = std::make_shared<AddPartitionsToTxnReq>();
      req->transactional_id = txn_id_;
      req->producer_id = producer_id_;
      req->producer_epoch = producer_epoch_;
      req->partitions.assign(txn_pending_add_.begin(), txn_pending_add_.end());
      auto r = coordinator_call(req, deadline, [](const Payload& p) { return payload_as_ref<AddPartitionsToTxnResp>(p).error; });
      if (phase_ != Phase::in_txn && phase_ != Phase::committing) return;  // aborted meanwhile
      if (!r.ok()) {
        txn_record_failed(r.error());
        return;
      }
      const Errc e = payload_as<AddPartitionsToTxnResp>(*r).error;
      if (e != Errc::no_error) {
        (void)txn_failure(e, "AddPartitionsToTxn", /*abortable=*/true);
        done_cv_.notify_all();
        return;
      }
      for (const TopicPartition& tp : req->partitions) {
        txn_pending_add_.erase(tp);
        txn_added_.insert(tp);
      }
      rt_.trace("kafka/txn_client_added", static_cast<uint64_t>(producer_id_), req->partitions.size());
      work_.notify_all();
    }
  }

  void report(const std::vector<MsgMeta>& msgs, const TopicPartition& tp, int64_t base, std::optional<k::Error> e,
              k::Persistence status) {
    if (reports_.capacity() < reports_.size() + msgs.size())
      reports_.reserve(std::max(reports_.size() + msgs.size(), 2 * reports_.capacity()));
    for (size_t i = 0; i < msgs.size(); ++i) {
      k::DeliveryReport d;
      d.tp = {tp.topic, tp.partition};
      d.offset = k::KafkaOffset{e ? -1001 : (base < 0 ? -1 : base + static_cast<int64_t>(i))};
      d.timestamp_ms = msgs[i].timestamp_ms;
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
      report(q.queue.take_all_meta(), tp, -1, e, k::Persistence::possibly_persisted);
    }
  }

  bool ensure_producer_id() {
    // A transactional producer gets its id from init_transactions (and cannot
    // produce before it).
    if (!idempotent_ || producer_id_ >= 0 || txn_) return true;
    // Any broker answers; after a failure ask the next live one (librdkafka
    // picks any usable broker), so one crashed bootstrap broker cannot stall
    // the producer forever.
    NodeId target = meta_.any_broker();
    if (init_failures_ > 0 && meta_.image() && !meta_.image()->live_brokers.empty()) {
      const auto& live = meta_.image()->live_brokers;
      if (auto n = meta_.node_of(live[init_failures_ % live.size()])) target = *n;
    }
    auto r = rt_.net().call(rt_, rt_.id(), target, kBrokerPort, std::make_shared<InitProducerIdReq>(),
                            meta_.request_timeout());
    const bool answered = r.ok() && payload_as<InitProducerIdResp>(*r).error == Errc::no_error;
    if (!answered) {
      ++init_failures_;
      if (!meta_.image()) meta_.refresh();  // learn the live brokers to rotate over
      return false;
    }
    const auto& resp = payload_as<InitProducerIdResp>(*r);
    producer_id_ = resp.producer_id;
    producer_epoch_ = resp.producer_epoch;
    return true;
  }

  // The index of a topic name in topics_, added on first use. Messages carry
  // the index; a producer writes to few topics, usually one after another, so
  // the last one is checked before the map.
  uint32_t topic_id(const std::string& name) {
    if (last_topic_ < topics_.size() && topics_[last_topic_] == name) return last_topic_;
    auto it = topic_ids_.find(name);
    if (it == topic_ids_.end()) {
      SS_ASSERT(topics_.size() < UINT32_MAX, "more topic names than a message can index");
      it = topic_ids_.emplace(name, static_cast<uint32_t>(topics_.size())).first;
      topics_.push_back(name);
    }
    SS_ASSERT(topics_[it->second] == name, "topic index out of step with its name");
    last_topic_ = it->second;
    return last_topic_;
  }

  // Assigns partitions to new messages once metadata knows their topics.
  void partition_new() {
    // Kept messages go back in their order; the queue is rebuilt rather than
    // erased from in the middle (it is a chunked FIFO, see MsgQueue).
    MsgQueue keep;
    while (!unpartitioned_.empty()) {
      Msg& m = unpartitioned_.front();
      if (meta_.partitions(topics_[m.topic]) == 0) {
        if (rt_.now() - m.meta.enqueued > msg_timeout_) {
          const Msg gone = std::move(m);
          unpartitioned_.pop_front();
          k::Error unknown = err(Errc::unknown_topic_or_partition, "unknown topic");
          if (txn_) txn_record_failed(unknown);
          report({gone.meta}, {topics_[gone.topic], -1}, -1, unknown, k::Persistence::not_persisted);
          continue;
        }
        keep.push_back(std::move(m));
      } else {
        const bool queued = enqueue_partitioned(m);
        SS_ASSERT(queued, "a topic with known partitions could not be partitioned");
      }
      unpartitioned_.pop_front();
    }
    SS_ASSERT(unpartitioned_.empty(), "partition_new left messages behind");
    unpartitioned_ = std::move(keep);
  }

  // Moves m into its partition's queue if its topic's partition count is known
  // (false, m untouched, if not). Partitions are looked up through a per-topic
  // cache of queue pointers (std::map nodes are stable and never erased), so
  // the common case costs no map search per message.
  bool enqueue_partitioned(Msg& m) {
    // The cache is valid for one topic under one committed metadata image
    // (identified by its version and controller epoch): a newer image may
    // change the partition count.
    const MetadataImage* img = meta_.image();
    if (img == nullptr) return false;
    if (cached_queues_.empty() || cached_topic_ != m.topic || cached_version_ != img->version ||
        cached_epoch_ != img->controller_epoch) {
      const int32_t count = meta_.partitions(topics_[m.topic]);
      if (count <= 0) return false;
      cached_topic_ = m.topic;
      cached_version_ = img->version;
      cached_epoch_ = img->controller_epoch;
      cached_queues_.assign(static_cast<size_t>(count), nullptr);
    }
    const int32_t n = static_cast<int32_t>(cached_queues_.size());
    int32_t p = m.partition;
    if (p < 0) {
      std::optional<std::string_view> key;
      if (m.rec.key) key = *m.rec.key;
      p = k::partition_for(partitioner_, key, n, rng_);
    }
    PartitionQueue* q = p < n ? cached_queues_[static_cast<size_t>(p)] : nullptr;
    if (q == nullptr) {
      q = &queues_[TopicPartition{topics_[m.topic], p}];
      if (p < n) cached_queues_[static_cast<size_t>(p)] = q;
    }
    q->queue.push_back(std::move(m));
    return true;
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
        while (!q.in_flight && !q.queue.empty() && rt_.now() - q.queue.front().meta.enqueued > msg_timeout_) {
          const Msg gone = std::move(q.queue.front());
          q.queue.pop_front();
          k::Error timed_out = err(Errc::local_msg_timed_out, "message timed out");
          if (txn_) txn_record_failed(timed_out);
          report({gone.meta}, tp, -1, timed_out, k::Persistence::not_persisted);
        }
        if (txn_ && !q.in_flight && !q.queue.empty() && !txn_added_.count(tp)) {
          // KIP-98: the partition joins the transaction before its first batch.
          if (phase_ == Phase::in_txn || phase_ == Phase::committing) {
            txn_pending_add_.insert(tp);
            if (!adding_) {
              adding_ = true;
              requests_.push_back(rt_.spawn("txn-add-partitions", [this] { add_partitions_task(); }));
            }
          }
          continue;
        }
        if (!q.in_flight && !q.queue.empty()) {
          Instant ready = q.queue.front().meta.enqueued + linger_;
          if (q.queue.size() < batch_max_ && rt_.now() < ready) {
            next_wake = std::min(next_wake, ready);
            continue;
          }
          InFlight f;
          Batch batch;
          const size_t take = std::min(q.queue.size(), batch_max_);
          std::vector<Record>& recs = batch.records.own();
          recs.reserve(take);
          f.msgs.reserve(take);
          while (!q.queue.empty() && f.msgs.size() < batch_max_) {
            Msg& m = q.queue.front();
            recs.push_back(std::move(m.rec));
            f.msgs.push_back(m.meta);
            q.queue.pop_front();
          }
          if (idempotent_) {
            batch.producer_id = producer_id_;
            batch.producer_epoch = producer_epoch_;
            batch.base_sequence = q.next_sequence;
            batch.transactional = txn_;
            q.next_sequence += static_cast<int32_t>(f.msgs.size());
          }
          f.batch = std::make_shared<const Batch>(std::move(batch));
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
      if (txn_ && e && !e->fatal) txn_record_failed(*e);
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
    if (txn_ && (res.error == Errc::invalid_producer_epoch || res.error == Errc::producer_fenced)) {
      // The coordinator bumped the epoch for a newer producer (or a timeout): fenced.
      rt_.probe("kafka.producer_fenced");
      k::Error fenced = err(Errc::local_fenced, std::string("produce fenced: ") + k::to_string(res.error));
      fenced.fatal = true;
      finish(fenced, -1, k::Persistence::possibly_persisted);
      set_fatal(fenced);
      return;
    }
    if (idempotent_ && !txn_ && (res.error == Errc::out_of_order_sequence_number || res.error == Errc::invalid_producer_epoch ||
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
  bool txn_ = false;
  std::string txn_id_;
  Duration txn_timeout_ = Duration::seconds(60);
  Phase phase_ = Phase::uninit;
  std::optional<NodeId> coordinator_;           // the transaction coordinator, once found
  std::set<TopicPartition> txn_added_;          // registered in the current transaction
  std::set<TopicPartition> txn_pending_add_;    // waiting for AddPartitionsToTxn
  bool txn_offsets_ = false;                    // send_offsets_to_transaction registered the group
  bool adding_ = false;                         // add_partitions_task is running
  bool sequences_lost_ = false;                 // a batch failed after taking sequence numbers
  std::optional<k::Error> txn_error_;           // why the transaction is abortable
  size_t init_failures_ = 0;                    // failed InitProducerId calls (idempotent, not transactional)
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = 0;
  bool stale_metadata_ = false;
  std::optional<k::Error> fatal_;
  size_t outstanding_ = 0;
  // Messages whose topic's partition count is not known yet, in produce order.
  // A chunked FIFO, not a std::deque: a deque of Msg allocates a 512-byte node
  // per two messages, and a producer that outruns its first metadata response
  // queues every message here.
  MsgQueue unpartitioned_;
  std::vector<std::string> topics_;                // names of the topics produced to, by Msg::topic
  std::map<std::string, uint32_t> topic_ids_;      // and back
  uint32_t last_topic_ = UINT32_MAX;               // the most recent topic_id() result
  std::map<TopicPartition, PartitionQueue> queues_;
  uint32_t cached_topic_ = 0;                   // enqueue_partitioned's cache: this topic's
  std::vector<PartitionQueue*> cached_queues_;  // queues by partition (null: not looked up yet)
  int64_t cached_version_ = -1;
  int32_t cached_epoch_ = -1;
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
