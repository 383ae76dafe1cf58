// The Kafka wiring of the engine: consumer group membership, micro-batch loop,
// per-task transactions (or the at-least-once protocol), changelog restore.
// The protocol is described in instance.h and docs/semantics.md, "Exactly-once".
#include <streamsim/core/assert.h>
#include <streamsim/engine/instance.h>
#include <streamsim/engine/table.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string_view>

namespace streamsim::engine {

namespace k = streamsim::kafka;

const char* to_string(DeliveryMode m) {
  switch (m) {
    case DeliveryMode::exactly_once: return "exactly_once";
    case DeliveryMode::at_least_once: return "at_least_once";
  }
  return "?";
}

namespace encoders {
RowEncoder typed() {
  return [](const OutputRow& r) {
    EncodedRecord e;
    e.key = encode_value(r.key);
    e.value = encode_value(r.value);
    return e;
  };
}
RowEncoder text() {
  return [](const OutputRow& r) {
    EncodedRecord e;
    e.key = r.key.to_string();
    e.value = r.value.to_string();
    return e;
  };
}
}  // namespace encoders

std::string changelog_topic(const std::string& application_id) { return application_id + "-changelog"; }
std::string transactional_id(const std::string& application_id, const std::string& topic, int32_t partition) {
  return application_id + "-" + topic + "-" + std::to_string(partition);
}

namespace {

using Props = std::vector<std::pair<std::string, std::string>>;

// Bounds of the retry loops around Kafka calls (each call is also bounded by
// InstanceConfig::kafka_timeout).
constexpr int kMaxAttempts = 5;
constexpr int kMaxQueueFullRetries = 1'000;
constexpr size_t kRestorePollRecords = 10'000;

EngineError config_error(std::string field, std::string message) {
  return EngineError{EngineErrc::invalid_config, std::move(field), std::move(message)};
}

std::string describe(const k::Error& e) { return std::string(k::to_string(e.code)) + ": " + e.message; }

EngineError kafka_failure(std::string call, const k::Error& e) {
  return EngineError{EngineErrc::kafka_error, std::move(call), describe(e)};
}

// Whether a transactional error leaves the producer unusable. librdkafka marks
// these fatal; the codes are checked too, so a fencing error that arrives
// without the flag (through a delivery report, say) is never retried.
bool fatal_txn_error(const k::Error& e) {
  return e.fatal || e.code == k::Errc::producer_fenced || e.code == k::Errc::local_fenced ||
         e.code == k::Errc::local_fatal || e.code == k::Errc::invalid_producer_epoch ||
         e.code == k::Errc::transaction_coordinator_fenced;
}

// Calls a transactional operation up to kMaxAttempts times while it fails
// retriably; an abortable or fatal error ends the attempts at once (the caller
// aborts or gives the task up). Suspends (the call does).
template <class Call>
Result<void, k::Error> retry_txn_call(Call&& call) {
  std::optional<k::Error> err;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto r = call();
    if (r.ok()) return {};
    err = r.error();
    if (!err->retriable || err->txn_requires_abort || fatal_txn_error(*err)) break;
  }
  SS_ASSERT(err.has_value(), "retry_txn_call ends without success only on an error");
  return unexpected(*err);
}

std::optional<std::string> find_prop(const Props& props, const std::string& name) {
  std::optional<std::string> v;
  for (const auto& [key, value] : props)
    if (key == name) v = value;  // a later value wins, as in kafka::Config::make
  return v;
}

Props concat(Props a, const Props& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

k::Header header(const char* name, std::string value) { return k::Header{name, std::move(value)}; }

bool has_header(const k::ConsumerRecord& r, const char* name) {
  for (const auto& h : r.headers)
    if (h.key == name) return true;
  return false;
}

}  // namespace

// What the progress reader learned of every changelog partition's committed
// meta entries, shared between the reader's task and the batch loop (both on
// the instance's Runtime: cooperative, so no locking). The reader and the
// instance each hold it, so neither outlives what it touches.
struct ProgressBoard {
  std::map<int32_t, PartitionProgress> latest;  // merged meta entries, by partition
  std::set<int32_t> owned;                      // partitions the instance owns: not read
  bool caught_up = false;  // the startup read reached every partition's last stable offset
  bool stop = false;
  uint64_t records = 0;  // changelog records read
};

// Reads the meta entries of the changelog partitions this instance does not
// own, with read_committed, on a task of its own so that no batch ever waits
// for it (docs/semantics.md, "Watermarks"). First it reads every partition
// up to the last stable offset it finds at the start (the highest committed
// watermark of any instance is then known before the instance joins the
// group); then it follows the partitions the instance does not own, from
// where it last read each. Every wait is a bounded Runtime call.
class ProgressReader {
 public:
  ProgressReader(Runtime& rt, std::unique_ptr<k::Admin> admin, std::shared_ptr<ProgressBoard> board,
                 std::unique_ptr<k::Consumer> consumer, std::string source, std::string changelog,
                 int32_t partitions, Duration interval, Duration timeout)
      : rt_(rt),
        admin_(std::move(admin)),
        board_(std::move(board)),
        consumer_(std::move(consumer)),
        source_(std::move(source)),
        changelog_(std::move(changelog)),
        partitions_(partitions),
        interval_(interval),
        timeout_(timeout) {
    SS_ASSERT(partitions_ > 0 && consumer_ != nullptr && admin_ != nullptr, "the reader reads an existing changelog");
  }

  // Until board->stop or cancellation. Suspends.
  void run() {
    catch_up();
    std::set<int32_t> assigned;
    while (!board_->stop) {
      std::set<int32_t> wanted;
      for (int32_t p = 0; p < partitions_; ++p)
        if (!board_->owned.count(p)) wanted.insert(p);
      if (wanted != assigned) {
        assign(wanted);
        assigned = wanted;
      }
      if (wanted.empty()) {
        rt_.sleep_for(interval_);
        continue;
      }
      auto got = consumer_->poll(interval_, kRestorePollRecords);
      if (!got.ok()) {
        rt_.sleep_for(interval_);  // an error returns at once: do not spin
        continue;
      }
      absorb(*got);
    }
  }

 private:
  // Reads every partition up to its last stable offset as listed now; each
  // attempt is bounded, and they repeat (with what was read kept) until done
  // or stopped. Suspends.
  void catch_up() {
    std::map<int32_t, int64_t> end;
    for (int attempt = 0; !board_->stop; ++attempt) {
      if (end.empty()) {
        std::vector<k::TopicPartition> tps;
        for (int32_t p = 0; p < partitions_; ++p) tps.push_back({changelog_, p});
        auto r = admin_->list_offsets(tps, k::OffsetSpec::latest, /*read_committed=*/true, timeout_);
        bool complete = r.ok() && r->size() == tps.size();
        if (complete) {
          for (const auto& o : *r) {
            if (o.error || o.offset.is_logical()) complete = false;
            else end[o.tp.partition] = o.offset.value;
          }
        }
        if (!complete) {
          end.clear();
          rt_.sleep_for(Duration::millis(100) * (int64_t{1} << std::min(attempt, 4)));
          continue;
        }
        std::set<int32_t> all;
        for (int32_t p = 0; p < partitions_; ++p) all.insert(p);
        assign(all);
      }
      const Instant deadline = rt_.now() + timeout_ * 3;
      while (!reached(end) && rt_.now() < deadline && !board_->stop) {
        auto got = consumer_->poll(Duration::millis(100), kRestorePollRecords);
        if (got.ok()) absorb(*got);
      }
      if (reached(end)) break;
      rt_.log().warn("progress reader {}: changelog not read to its end in time; retrying", changelog_);
    }
    if (!board_->stop) board_->caught_up = true;
  }

  bool reached(const std::map<int32_t, int64_t>& end) const {
    for (const auto& [p, e] : end) {
      if (e <= 0) continue;
      auto pos = consumer_->position({changelog_, p});
      if (!pos.ok() || pos->is_logical() || pos->value < e) return false;
    }
    return true;
  }

  // Assigns these partitions, each at the position it was last read to.
  void assign(const std::set<int32_t>& parts) {
    for (const auto& tp : consumer_->assignment()) {
      auto pos = consumer_->position(tp);
      if (pos.ok() && !pos->is_logical()) positions_[tp.partition] = std::max(positions_[tp.partition], pos->value);
    }
    std::vector<k::TopicPartitionOffset> list;
    for (int32_t p : parts) {
      auto it = positions_.find(p);
      list.push_back({{changelog_, p}, it == positions_.end() ? k::KafkaOffset::beginning() : k::KafkaOffset{it->second},
                      std::nullopt});
    }
    if (auto a = consumer_->assign(list); !a)
      rt_.log().warn("progress reader {}: assign: {}", changelog_, a.error().message);
  }

  // Keeps the meta entries: "<source>/<partition>/" + the meta state key.
  void absorb(const std::vector<k::ConsumerRecord>& records) {
    for (const auto& r : records) {
      ++board_->records;
      const int32_t p = r.tp.partition;
      positions_[p] = std::max(positions_[p], r.offset.value + 1);
      if (!r.key || !r.value) continue;
      const std::string pre = source_ + "/" + std::to_string(p) + "/";
      if (r.key->compare(0, pre.size(), pre) != 0) continue;
      auto progress = decode_progress(std::string_view(*r.key).substr(pre.size()), *r.value);
      if (!progress) continue;
      auto it = board_->latest.find(p);
      board_->latest[p] = it == board_->latest.end() ? *progress : merge_progress(it->second, *progress);
    }
  }

  Runtime& rt_;
  std::unique_ptr<k::Admin> admin_;  // its own clients: the reader may end after the instance's
  std::shared_ptr<ProgressBoard> board_;
  std::unique_ptr<k::Consumer> consumer_;  // assign-only, read_committed
  std::string source_, changelog_;
  int32_t partitions_;
  Duration interval_, timeout_;
  std::map<int32_t, int64_t> positions_;  // next offset to read, by partition
};

// One input partition owned by this instance.
struct TaskSlot {
  int32_t partition = 0;
  std::unique_ptr<k::Producer> producer;  // exactly-once: the task's transactional producer
  // The next input offset the task may accept: records below it (fetched
  // before a seek) are skipped so offsets reach the task strictly increasing.
  int64_t expected_offset = -1;
  // W1 of the last batch whose changelog was committed: a batch that changes
  // nothing else is not committed unless the watermark moved.
  Watermark committed_watermark = Watermark::min();
  // Likewise the idleness its last committed meta entry recorded: other
  // instances learn of a change only through a commit.
  bool committed_idle = false;
};

// The changelog of one task as read back.
struct Restored {
  std::vector<ChangelogEntry> entries;  // complete batches, in log order
  std::vector<ChangelogEntry> tail;     // after the last batch end: a batch cut short by a crash
  uint64_t records = 0;
};

enum class CommitOutcome { committed, rewound, fatal };

struct EngineInstance::Impl final : k::RebalanceListener {
  Impl(Runtime& r, k::Kafka& kf, Pipeline p, InstanceConfig c, Props producer_props, Props consumer_props)
      : rt(r),
        kafka(kf),
        cfg(std::move(c)),
        source(p.plan().source_topic),
        sink(p.plan().sink_topic),
        changelog(changelog_topic(cfg.application_id)),
        producer_props(std::move(producer_props)),
        consumer_props(std::move(consumer_props)),
        tables(p),
        query(Query::create(std::move(p), {}, r.now(), tables.attach(cfg.engine))) {}

  Runtime& rt;
  k::Kafka& kafka;
  InstanceConfig cfg;
  std::string source, sink, changelog;
  Props producer_props;  // validated; without transactional.id
  Props consumer_props;  // validated; the group member's
  TableLoader tables;    // stream-static join tables, shared read-only with the query (engine/table.cpp)
  Query query;
  int32_t source_partitions = 0;

  std::map<int32_t, TaskSlot> tasks;
  std::map<int32_t, std::vector<InputRecord>> buffer;  // the batch being collected
  size_t buffered = 0;

  std::unique_ptr<k::Admin> admin;
  std::unique_ptr<k::Consumer> restore_consumer;  // assign-only, read_committed
  std::unique_ptr<k::Producer> plain_producer;    // at-least-once
  std::unique_ptr<k::Consumer> consumer;          // the group member
  // Other partitions' committed progress, for the global watermark.
  std::shared_ptr<ProgressBoard> board = std::make_shared<ProgressBoard>();
  TaskHandle reader_task;

  bool stop = false;
  bool committing = false;  // outputs produced, commit not yet returned (EngineInstance::committing)
  bool rejoin = false;                     // a fatal producer error: give partitions up
  std::optional<EngineError> fatal_error;  // stops run()
  InstanceStats stats;
  bool ran = false;
  std::optional<Result<void, EngineError>> result;
  TaskHandle task;

  bool eos() const { return cfg.mode == DeliveryMode::exactly_once; }
  Duration timeout() const { return cfg.kafka_timeout; }
  std::string prefix(int32_t p) const { return source + "/" + std::to_string(p) + "/"; }

  // Sleeps a short backoff that grows with the attempt. Suspends.
  void back_off(int attempt) { rt.sleep_for(Duration::millis(100) * (int64_t{1} << std::min(attempt, 4))); }

  // ---------------------------------------------------------------- setup ---

  Result<void, EngineError> setup() {
    auto admin_cfg = k::Config::make(k::Role::admin, {{"bootstrap.servers", cfg.bootstrap_servers}});
    if (!admin_cfg) return unexpected(config_error("bootstrap_servers", admin_cfg.error().format()));
    auto a = kafka.admin(*admin_cfg);
    if (!a) return unexpected(kafka_failure("admin", a.error()));
    admin = std::move(*a);

    // The source topic's partition count sizes the changelog topic. The
    // cluster may still be starting: retry a bounded number of times.
    std::optional<k::Error> last;
    for (int attempt = 0; attempt < 2 * kMaxAttempts && source_partitions == 0; ++attempt) {
      auto d = admin->describe_topics({source}, timeout());
      if (d.ok() && d->size() == 1 && !(*d)[0].partitions.empty()) {
        source_partitions = static_cast<int32_t>((*d)[0].partitions.size());
        break;
      }
      if (!d.ok()) last = d.error();
      back_off(attempt);
    }
    if (source_partitions == 0)
      return unexpected(EngineError{EngineErrc::kafka_error, "source",
                                    "cannot describe source topic '" + source + "'" +
                                        (last ? ": " + describe(*last) : std::string())});

    k::TopicSpec spec;
    spec.name = changelog;
    spec.partitions = source_partitions;
    spec.replication = cfg.changelog_replication;
    spec.config = {{"cleanup.policy", "compact"}, {"min.insync.replicas", std::to_string(cfg.changelog_min_insync)}};
    bool created = false;
    for (int attempt = 0; attempt < 2 * kMaxAttempts && !created; ++attempt) {
      auto c = admin->create_topics({spec}, timeout());
      if (c.ok() && c->size() == 1) {
        const auto& e = (*c)[0];
        if (!e || e->code == k::Errc::topic_already_exists) {
          created = true;
          break;
        }
        if (e->code == k::Errc::invalid_replication_factor || e->code == k::Errc::invalid_partitions)
          return unexpected(config_error("changelog_replication", "cannot create '" + changelog + "': " + describe(*e)));
        last = *e;
      } else if (!c.ok()) {
        last = c.error();
      }
      back_off(attempt);
    }
    if (!created)
      return unexpected(EngineError{EngineErrc::kafka_error, "changelog",
                                    "cannot create changelog topic '" + changelog + "'" +
                                        (last ? ": " + describe(*last) : std::string())});

    auto rc = k::Config::make(k::Role::consumer, concat(cfg.consumer_properties,
                                                        {{"bootstrap.servers", cfg.bootstrap_servers},
                                                         {"isolation.level", "read_committed"},
                                                         {"enable.auto.commit", "false"}}));
    SS_ASSERT(rc.ok(), "the restore consumer's properties were validated by create()");
    auto r = kafka.consumer(*rc);
    if (!r) return unexpected(kafka_failure("restore consumer", r.error()));
    restore_consumer = std::move(*r);

    if (!eos()) {
      auto pc = k::Config::make(k::Role::producer, producer_props);
      SS_ASSERT(pc.ok(), "the producer properties were validated by create()");
      auto pr = kafka.producer(*pc);
      if (!pr) return unexpected(kafka_failure("producer", pr.error()));
      plain_producer = std::move(*pr);
    }
    return {};
  }

  // ------------------------------------------------------- task lifecycle ---

  // Rebalance callbacks: they run inside consumer->poll, on run()'s task,
  // between batches (never while a transaction is open).
  void on_assigned(k::Consumer& c, const std::vector<k::TopicPartition>& parts) override {
    for (const auto& tp : parts) {
      if (tp.topic != source) continue;
      if (fatal_error || rejoin) {
        // Stop taking work: the partitions are given back at the rejoin.
        (void)c.pause({tp});
        continue;
      }
      if (tasks.count(tp.partition)) close_task(tp.partition);
      open_task(c, tp.partition);
    }
  }
  void on_revoked(k::Consumer&, const std::vector<k::TopicPartition>& parts) override {
    for (const auto& tp : parts) {
      if (tp.topic != source) continue;
      // Records collected for the batch in progress are dropped with the task.
      if (auto b = buffer.find(tp.partition); b != buffer.end() && !b->second.empty()) rt.probe("engine.revoked_mid_batch");
      close_task(tp.partition);
    }
  }

  // Takes over partition p: fences the previous owner (exactly-once), restores
  // the state and positions the consumer. On a Kafka failure the partition is
  // paused and the instance rejoins the group (someone else may take it).
  // Suspends.
  void open_task(k::Consumer& c, int32_t p) {
    TaskSlot slot;
    slot.partition = p;
    if (eos()) {
      auto prod = init_producer(p);
      if (!prod) {
        rt.log().warn("engine {}: task {}[{}]: {}; giving the partition up", cfg.application_id, source, p,
                      prod.error().format());
        give_up(c, p);
        return;
      }
      slot.producer = std::move(*prod);
    }
    tasks.emplace(p, std::move(slot));
    board->owned.insert(p);  // its own progress is in the task from now on
    if (auto r = recover(c, p); !r) {
      if (r.error().code == EngineErrc::kafka_error) {
        rt.log().warn("engine {}: task {}[{}]: {}; giving the partition up", cfg.application_id, source, p,
                      r.error().format());
        close_task(p);
        give_up(c, p);
      } else {
        fatal_error = r.error();
      }
    }
  }

  // Drops a task: its state, its buffered records and its producer. Does not
  // suspend (a producer without an open transaction closes at once).
  void close_task(int32_t p) {
    if (auto it = buffer.find(p); it != buffer.end()) {
      buffered -= it->second.size();
      buffer.erase(it);
    }
    if (const PartitionTask* t = query.task(p)) {
      // The partition becomes remote: until the reader has caught up with its
      // changelog, it counts with what this instance last knew of it.
      auto it = tasks.find(p);
      PartitionProgress mine{t->max_event_time(), t->next_offset(), it != tasks.end() && it->second.committed_idle,
                             it != tasks.end() ? it->second.committed_watermark : Watermark::min()};
      auto known = board->latest.find(p);
      board->latest[p] = known == board->latest.end() ? mine : merge_progress(known->second, mine);
      query.remove_partition(p);
    }
    tasks.erase(p);
    board->owned.erase(p);
    SS_ASSERT(!query.task(p) && !buffer.count(p), "a closed task leaves no state behind");
  }

  void give_up(k::Consumer& c, int32_t p) {
    (void)c.pause({k::TopicPartition{source, p}});
    rejoin = true;
  }

  // A transactional producer for task p, initialised: init_transactions bumps
  // the epoch of the transactional.id, fencing any older producer of it, and
  // aborts the transaction that producer left open. Suspends.
  Result<std::unique_ptr<k::Producer>, EngineError> init_producer(int32_t p) {
    auto props = concat(producer_props, {{"transactional.id", transactional_id(cfg.application_id, source, p)}});
    auto pc = k::Config::make(k::Role::producer, props);
    SS_ASSERT(pc.ok(), "the producer properties were validated by create()");
    std::optional<k::Error> last;
    std::unique_ptr<k::Producer> prod;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (!prod) {
        auto made = kafka.producer(*pc);
        if (!made) return unexpected(kafka_failure("producer", made.error()));
        prod = std::move(*made);
      }
      auto r = prod->init_transactions(timeout());
      if (r.ok()) return prod;
      last = r.error();
      // A fatal error leaves the client unusable: start over with a new one.
      if (r.error().fatal) prod.reset();
      back_off(attempt);
    }
    SS_ASSERT(last.has_value(), "a failed init has an error");
    return unexpected(kafka_failure("init_transactions", *last));
  }

  // Restores task p from the changelog and seeks the consumer to where its
  // state ends. Precondition: tasks has p and the query does not. Suspends.
  Result<void, EngineError> recover(k::Consumer& c, int32_t p) {
    SS_ASSERT(tasks.count(p) && !query.task(p), "recover a task that is registered but has no state");
    auto restored = read_changelog(p);
    if (!restored) return unexpected(restored.error());
    if (auto a = query.add_partition(p, restored->entries, rt.now()); !a) return unexpected(a.error());
    tables.mark_stale();  // join tables are reloaded after every restore
    ++stats.restores;
    stats.restored_records += restored->records;
    if (restored->records > 0) rt.probe("engine.state_restored");
    const PartitionTask* t = query.task(p);
    SS_ASSERT(t != nullptr, "a restored partition has a task");
    if (!restored->tail.empty()) {
      ++stats.partial_batches_dropped;
      rt.probe("engine.partial_batch_dropped");
      if (auto r = repair_tail(p, restored->tail); !r) return r;
    }

    // Where to resume: the state's next offset. The state must never see a
    // record twice (PartitionTask's offset contract), so it wins over the
    // group's committed offset; in exactly-once mode the two are committed in
    // one transaction and must agree.
    const k::TopicPartition tp{source, p};
    std::optional<int64_t> committed;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      auto r = c.committed({tp}, timeout());
      if (r.ok() && r->size() == 1) {
        if (!(*r)[0].offset.is_logical()) committed = (*r)[0].offset.value;
        break;
      }
      back_off(attempt);
    }
    const int64_t state_next = t->next_offset();
    if (state_next >= 0 && committed && *committed != state_next) {
      ++stats.offset_mismatches;
      rt.log().warn("engine {}: task {}[{}]: state resumes at {} but the group committed {}", cfg.application_id,
                    source, p, state_next, *committed);
    }
    // Without state, the group offset is trusted only in exactly-once mode,
    // where it commits in the same transaction as the state. At-least-once
    // commits the offsets before the changelog, so a crash between the two
    // leaves an offset whose state was never written: resuming there would
    // lose the records before it (found by the at-least-once canary, seed 27:
    // a window never emitted). Re-reading from the beginning only duplicates,
    // which is what at-least-once allows.
    const bool trust_group_offset = eos();
    if (state_next < 0 && committed && !trust_group_offset) rt.probe("engine.group_offset_ignored_without_state");
    const k::KafkaOffset resume = state_next >= 0                      ? k::KafkaOffset{state_next}
                                  : (committed && trust_group_offset) ? k::KafkaOffset{*committed}
                                                                      : k::KafkaOffset::beginning();
    SS_ASSERT(trust_group_offset || state_next >= 0 || resume.is_logical(),
              "at-least-once never resumes a stateless task at a group offset");
    if (auto s = c.seek(tp, resume, timeout()); !s) return unexpected(kafka_failure("seek", s.error()));
    (void)c.resume({tp});
    TaskSlot& slot = tasks.at(p);
    slot.expected_offset = resume.is_logical() ? -1 : resume.value;
    slot.committed_watermark = t->restored_watermark();
    slot.committed_idle = t->idle();
    rt.log().info("engine {}: task {}[{}] restored from {} changelog records, resuming at offset {}",
                  cfg.application_id, source, p, restored->records, resume.value);
    return {};
  }

  // Reads changelog partition p up to its last stable offset. Suspends.
  Result<Restored, EngineError> read_changelog(int32_t p) {
    const k::TopicPartition tp{changelog, p};
    std::optional<int64_t> end;
    std::optional<k::Error> last;
    for (int attempt = 0; attempt < 2 * kMaxAttempts && !end; ++attempt) {
      auto r = admin->list_offsets({tp}, k::OffsetSpec::latest, /*read_committed=*/true, timeout());
      if (r.ok() && r->size() == 1 && !(*r)[0].error && !(*r)[0].offset.is_logical()) {
        end = (*r)[0].offset.value;
        break;
      }
      if (!r.ok()) last = r.error();
      else if (r->size() == 1 && (*r)[0].error) last = *(*r)[0].error;
      back_off(attempt);
    }
    if (!end) return unexpected(last ? kafka_failure("list_offsets " + changelog, *last)
                                     : EngineError{EngineErrc::kafka_error, "list_offsets " + changelog, "no answer"});
    Restored out;
    if (*end <= 0) return out;
    if (auto a = restore_consumer->assign({{tp, k::KafkaOffset::beginning(), std::nullopt}}); !a)
      return unexpected(kafka_failure("assign " + changelog, a.error()));
    const std::string pre = prefix(p);
    size_t complete = 0;
    const Instant deadline = rt.now() + timeout() * 3;
    for (;;) {
      auto pos = restore_consumer->position(tp);
      if (pos.ok() && !pos->is_logical() && pos->value >= *end) break;
      if (rt.now() >= deadline) {
        (void)restore_consumer->assign({});
        return unexpected(EngineError{EngineErrc::kafka_error, "restore " + changelog,
                                      "changelog partition " + std::to_string(p) + " not read to offset " +
                                          std::to_string(*end) + " in time"});
      }
      auto recs = restore_consumer->poll(Duration::millis(100), kRestorePollRecords);
      if (!recs.ok()) continue;
      for (const auto& r : *recs) {
        if (r.offset.value >= *end) continue;  // written after the restore began: not ours to apply
        if (++out.records > cfg.max_restore_records) {
          (void)restore_consumer->assign({});
          return unexpected(EngineError{EngineErrc::bad_checkpoint, "restore " + changelog,
                                        "more than max_restore_records (" + std::to_string(cfg.max_restore_records) +
                                            ") changelog records"});
        }
        if (!r.key || r.key->compare(0, pre.size(), pre) != 0) continue;
        out.entries.push_back(ChangelogEntry{r.key->substr(pre.size()), r.value});
        if (has_header(r, headers::kBatchEnd)) complete = out.entries.size();
      }
    }
    (void)restore_consumer->assign({});
    // Entries after the last batch end belong to a batch whose changelog was
    // cut short (at-least-once: a crash while writing it). Exactly-once never
    // shows one to read_committed.
    out.tail.assign(out.entries.begin() + static_cast<std::ptrdiff_t>(complete), out.entries.end());
    out.entries.resize(complete);
    return out;
  }

  // At-least-once: a dropped tail would be applied by a later restore once
  // newer batches follow it, so it is overwritten now with the restored
  // values of its keys (tombstones where the state has none), closed by the
  // meta entry. Exactly-once tails are impossible; they are only dropped.
  Result<void, EngineError> repair_tail(int32_t p, const std::vector<ChangelogEntry>& tail) {
    rt.log().warn("engine {}: task {}[{}]: dropped {} changelog entries of an unfinished batch", cfg.application_id,
                  source, p, tail.size());
    if (eos()) return {};
    std::map<std::string, std::optional<std::string>> current;
    const std::vector<ChangelogEntry> snap = query.task(p)->snapshot();
    SS_ASSERT(!snap.empty(), "a snapshot ends with the task's meta entry");
    for (const auto& e : snap) current[e.key] = e.value;
    std::set<std::string> keys;
    for (const auto& e : tail) keys.insert(e.key);
    std::vector<ChangelogEntry> repair;
    for (const auto& key : keys) {
      auto it = current.find(key);
      repair.push_back(ChangelogEntry{key, it == current.end() ? std::nullopt : it->second});
    }
    repair.push_back(snap.back());
    for (size_t i = 0; i < repair.size(); ++i) {
      if (auto r = produce(*plain_producer, changelog_record(p, repair[i], 0, i + 1 == repair.size())); !r)
        return unexpected(kafka_failure("produce " + changelog, r.error()));
    }
    if (auto f = flush(*plain_producer); !f) return unexpected(kafka_failure("flush " + changelog, f.error()));
    return {};
  }

  // ------------------------------------------------------------- records ---

  k::ProducerRecord changelog_record(int32_t p, const ChangelogEntry& e, uint64_t batch, bool batch_end) const {
    k::ProducerRecord r;
    r.topic = changelog;
    r.partition = p;
    r.key = prefix(p) + e.key;
    r.value = e.value;
    r.headers.push_back(header(headers::kBatch, std::to_string(batch)));
    if (batch_end) r.headers.push_back(header(headers::kBatchEnd, "1"));
    return r;
  }

  // Every record a task's batch writes except the changelog, in a stable order:
  // output rows, late rows, dead letters.
  std::vector<k::ProducerRecord> output_records(int32_t p, const TaskOutput& out, const BatchOutput& b) const {
    std::vector<k::ProducerRecord> v;
    const std::string batch = std::to_string(b.batch), task = std::to_string(p);
    for (const OutputRow& row : out.rows) {
      EncodedRecord e = cfg.encoder(row);
      k::ProducerRecord r;
      r.topic = sink;
      r.key = std::move(e.key);
      r.value = std::move(e.value);
      r.headers = std::move(e.headers);
      if (row.window) {
        r.headers.push_back(header(headers::kWindowStart, std::to_string(row.window->start.ms())));
        r.headers.push_back(header(headers::kWindowEnd, std::to_string(row.window->end.ms())));
      }
      if (row.source) r.headers.push_back(header(headers::kSource, to_string(*row.source)));
      r.headers.push_back(header(headers::kBatch, batch));
      r.headers.push_back(header(headers::kTask, task));
      if (e.timestamp_ms) r.timestamp_ms = e.timestamp_ms;
      else if (row.event_time.ms() >= 0) r.timestamp_ms = row.event_time.ms();
      v.push_back(std::move(r));
    }
    for (const Row& row : out.late) {
      k::ProducerRecord r;
      r.topic = cfg.late_topic;
      r.key = encode_value(row.key);
      r.value = encode_value(row.value);
      r.headers = {header(headers::kSource, to_string(row.source)),
                   header(headers::kEventTime, std::to_string(row.event_time.ms())),
                   header(headers::kWatermark, to_string(b.watermark_start)), header(headers::kBatch, batch),
                   header(headers::kTask, task)};
      if (row.event_time.ms() >= 0) r.timestamp_ms = row.event_time.ms();
      v.push_back(std::move(r));
    }
    for (const DeadLetter& d : out.dead_letters) {
      k::ProducerRecord r;
      r.topic = cfg.dead_letter_topic;
      r.key = d.key;
      r.value = d.value;
      r.headers = {header(headers::kSource, to_string(d.source)), header(headers::kReason, d.reason),
                   header(headers::kBatch, batch), header(headers::kTask, task)};
      if (d.timestamp_ms >= 0) r.timestamp_ms = d.timestamp_ms;
      v.push_back(std::move(r));
    }
    return v;
  }

  // produce() with local_queue_full handled by serving delivery reports.
  // Suspends (only when the queue is full).
  Result<void, k::Error> produce(k::Producer& prod, k::ProducerRecord r) {
    for (int i = 0; i < kMaxQueueFullRetries; ++i) {
      auto res = prod.produce(r);
      if (res.ok() || res.error().code != k::Errc::local_queue_full) return res;
      (void)prod.poll(Duration::millis(10));
    }
    return unexpected(k::Error{k::Errc::local_queue_full, "producer queue stayed full", true, false, false});
  }

  // Waits for every delivery report; the first failed one is the error. Suspends.
  Result<void, k::Error> flush(k::Producer& prod) {
    auto f = prod.flush(timeout());
    std::optional<k::Error> failed;
    for (const auto& d : prod.poll(Duration::zero()))
      if (d.error && !failed) failed = *d.error;
    if (!f.ok()) return f;
    if (failed) return unexpected(*failed);
    return {};
  }

  // Tells the observer that task p's batch is durable with its watermark.
  void report_commit(int32_t p, const BatchOutput& b) {
    if (cfg.engine.observer) cfg.engine.observer->on_commit(WatermarkCommit{b.batch, p, b.watermark_end});
  }

  // Whether task p's batch changes nothing durable: no input, no output, only
  // the meta entry, and the watermark and idleness where they were last
  // committed (other instances read both).
  bool nothing_to_commit(int32_t p, const TaskOutput& out, const MicroBatch& mb, const BatchOutput& b) const {
    const auto it = mb.records.find(p);
    const bool had_input = it != mb.records.end() && !it->second.empty();
    return !had_input && out.rows.empty() && out.late.empty() && out.dead_letters.empty() &&
           out.changelog.size() <= 1 && b.watermark_end == tasks.at(p).committed_watermark &&
           out.idle == tasks.at(p).committed_idle;
  }

  static bool batch_had_input(const MicroBatch& mb) {
    for (const auto& [p, recs] : mb.records)
      if (!recs.empty()) return true;
    return false;
  }

  void count_outputs(const TaskOutput& out) {
    if (!out.late.empty()) rt.probe("engine.late_event_routed");
    if (!out.dead_letters.empty()) rt.probe("engine.dead_letter_routed");
    stats.rows_out += out.rows.size();
    stats.late_out += out.late.size();
    stats.dead_letters_out += out.dead_letters.size();
  }

  // -------------------------------------------------------- exactly-once ---

  // One transaction for task p's batch. Suspends.
  CommitOutcome commit_task(int32_t p, const TaskOutput& out, const BatchOutput& b) {
    TaskSlot& slot = tasks.at(p);
    SS_ASSERT(slot.producer != nullptr, "an exactly-once task has its producer");
    k::Producer& prod = *slot.producer;
    auto attempt_txn = [&]() -> Result<void, k::Error> {
      if (auto r = prod.begin_transaction(); !r) return r;
      committing = true;
      for (auto& rec : output_records(p, out, b))
        if (auto r = produce(prod, std::move(rec)); !r) return r;
      for (size_t i = 0; i < out.changelog.size(); ++i)
        if (auto r = produce(prod, changelog_record(p, out.changelog[i], b.batch, i + 1 == out.changelog.size())); !r)
          return r;
      if (cfg.TEST_pause_before_commit > Duration::zero()) rt.sleep_for(cfg.TEST_pause_before_commit);
      if (out.next_offset >= 0) {
        std::vector<k::TopicPartitionOffset> offsets{{{source, p}, k::KafkaOffset{out.next_offset}, std::nullopt}};
        auto sent = retry_txn_call([&] { return prod.send_offsets_to_transaction(offsets, consumer->group_metadata(), timeout()); });
        if (!sent.ok()) return sent;
      }
      // A retriable failure (a timeout) may be retried: the commit resumes.
      return retry_txn_call([&] { return prod.commit_transaction(timeout()); });
    };
    auto r = attempt_txn();
    committing = false;
    (void)prod.poll(Duration::zero());  // delivery reports: the commit's result already covers them
    if (r.ok()) {
      ++stats.commits;
      slot.committed_watermark = b.watermark_end;
      slot.committed_idle = out.idle;
      report_commit(p, b);
      count_outputs(out);
      return CommitOutcome::committed;
    }
    const k::Error e = r.error();
    if (fatal_txn_error(e)) return fail_task(p, "commit", e);
    // Abortable (or a retriable error that did not clear): abort, then rewind
    // the task to its last committed state and redo its records.
    std::optional<k::Error> abort_err;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      auto a = prod.abort_transaction(timeout());
      if (a.ok()) {
        abort_err.reset();
        break;
      }
      abort_err = a.error();
      if (fatal_txn_error(a.error())) break;
    }
    (void)prod.poll(Duration::zero());
    if (abort_err) return fail_task(p, "abort", *abort_err);
    ++stats.aborts;
    rt.probe("engine.batch_aborted");
    rt.log().info("engine {}: task {}[{}]: batch {} aborted ({}); rewinding", cfg.application_id, source, p, b.batch,
                  describe(e));
    return rewind(p);
  }

  // The task cannot go on with its producer (fenced, or the client failed):
  // drop it and give the partition up through a rejoin.
  CommitOutcome fail_task(int32_t p, const char* what, const k::Error& e) {
    ++stats.fenced;
    if (e.code == k::Errc::producer_fenced || e.code == k::Errc::local_fenced) rt.probe("engine.zombie_fenced");
    rt.log().warn("engine {}: task {}[{}]: {} failed fatally ({}); dropping the task", cfg.application_id, source, p,
                  what, describe(e));
    close_task(p);
    give_up(*consumer, p);
    return CommitOutcome::fatal;
  }

  // Discards task p's state and restores its last committed one. Suspends.
  CommitOutcome rewind(int32_t p) {
    if (auto it = buffer.find(p); it != buffer.end()) {
      buffered -= it->second.size();
      buffer.erase(it);
    }
    query.remove_partition(p);
    if (auto r = recover(*consumer, p); !r) {
      if (r.error().code != EngineErrc::kafka_error) {
        fatal_error = r.error();
        return CommitOutcome::fatal;
      }
      close_task(p);
      give_up(*consumer, p);
      return CommitOutcome::fatal;
    }
    return CommitOutcome::rewound;
  }

  // ------------------------------------------------------- at-least-once ---

  // Outputs, flush, offsets (commit_sync), changelog, flush. A failure before
  // the changelog is durable rewinds every task of the batch (their outputs
  // may be written: at least once). Suspends.
  void commit_batch_alo(const MicroBatch& mb, const BatchOutput& b) {
    k::Producer& prod = *plain_producer;
    committing = true;
    struct Clear {
      bool& flag;
      ~Clear() { flag = false; }
    } clear{committing};
    auto rewind_all = [&](const char* what, const k::Error& e) {
      rt.log().warn("engine {}: batch {}: {} failed ({}); rewinding", cfg.application_id, b.batch, what, describe(e));
      ++stats.aborts;
      for (const auto& [p, out] : b.tasks)
        if (tasks.count(p)) rewind(p);
    };
    for (const auto& [p, out] : b.tasks) {
      for (auto& rec : output_records(p, out, b)) {
        if (auto r = produce(prod, std::move(rec)); !r) return rewind_all("produce", r.error());
      }
    }
    if (auto f = flush(prod); !f) return rewind_all("flush outputs", f.error());
    if (cfg.TEST_pause_before_commit > Duration::zero() && batch_had_input(mb)) rt.sleep_for(cfg.TEST_pause_before_commit);
    std::vector<k::TopicPartitionOffset> offsets;
    for (const auto& [p, out] : b.tasks)
      if (out.next_offset >= 0) offsets.push_back({{source, p}, k::KafkaOffset{out.next_offset}, std::nullopt});
    if (!offsets.empty()) {
      // A failed commit is not fatal: the changelog's meta entry decides where
      // a restored task resumes; the group offset only trails it.
      if (auto c = consumer->commit_sync(offsets, timeout()); !c)
        rt.log().warn("engine {}: batch {}: commit_sync failed: {}", cfg.application_id, b.batch, describe(c.error()));
    }
    std::vector<int32_t> written;
    for (const auto& [p, out] : b.tasks) {
      if (nothing_to_commit(p, out, mb, b)) continue;
      written.push_back(p);
      for (size_t i = 0; i < out.changelog.size(); ++i) {
        if (auto r = produce(prod, changelog_record(p, out.changelog[i], b.batch, i + 1 == out.changelog.size())); !r)
          return rewind_all("produce changelog", r.error());
      }
    }
    if (auto f = flush(prod); !f) return rewind_all("flush changelog", f.error());
    ++stats.commits;
    for (const auto& [p, out] : b.tasks) count_outputs(out);
    for (int32_t p : written) {
      TaskSlot& slot = tasks.at(p);
      slot.committed_watermark = b.watermark_end;
      slot.committed_idle = b.tasks.at(p).idle;
      report_commit(p, b);
    }
  }

  // ---------------------------------------------------------------- loop ---

  void accept(const k::ConsumerRecord& r) {
    if (r.tp.topic != source) return;
    auto it = tasks.find(r.tp.partition);
    if (it == tasks.end() || !query.task(r.tp.partition)) return;  // revoked or given up
    TaskSlot& slot = it->second;
    if (r.offset.value < slot.expected_offset) return;  // fetched before a seek back: already in the state
    slot.expected_offset = r.offset.value + 1;
    InputRecord in;
    in.source = Provenance{r.tp.topic, r.tp.partition, r.offset.value};
    in.key = r.key;
    in.value = r.value;
    in.timestamp_ms = r.timestamp_ms;
    buffer[r.tp.partition].push_back(std::move(in));
    ++buffered;
  }

  bool interrupted() const { return stop || rejoin || fatal_error.has_value(); }

  // Batches until stop, a rejoin or an error. Suspends.
  void batch_loop() {
    Instant next_trigger = rt.now() + cfg.trigger_interval;
    while (!interrupted()) {
      // Collect until the trigger fires or the batch is full. A batch that
      // overran its interval polls once without waiting, so the consumer
      // (and with it the group membership) is always served.
      for (bool first = true; !interrupted() && buffered < cfg.max_records_per_batch && (first || rt.now() < next_trigger);
           first = false) {
        const Duration wait = std::max(Duration::zero(), next_trigger - rt.now());
        // BUGGIFY: the consumer's poll returns early with no records (a
        // wake-up, a rebalance callback); the batch must not end early.
        if (rt.buggify("engine.poll.early_empty")) continue;
        auto got = consumer->poll(wait, cfg.max_records_per_batch - buffered);
        if (!got.ok()) {
          rt.log().debug("engine {}: poll: {}", cfg.application_id, describe(got.error()));
          if (got.error().fatal) rejoin = true;
          continue;
        }
        for (const auto& r : *got) accept(r);
      }
      if (interrupted()) break;
      SS_ASSERT(buffered <= cfg.max_records_per_batch, "a batch never exceeds max_records_per_batch");
      if (query.partitions().empty()) {
        next_trigger = rt.now() + cfg.trigger_interval;
        continue;
      }
      // Join tables are (re)loaded before the batch when due; while Kafka
      // fails the batch waits (its records stay buffered) and the load is retried.
      if (auto t = tables.load_if_due(rt, *admin, *restore_consumer, TableLoadOptions{timeout(), cfg.max_restore_records});
          !t) {
        if (t.error().code != EngineErrc::kafka_error) {
          fatal_error = t.error();
          break;
        }
        rt.log().warn("engine {}: {}; retrying before the next batch", cfg.application_id, t.error().format());
        next_trigger = rt.now() + cfg.trigger_interval;
        continue;
      }
      // The other partitions' committed progress, as fresh as the reader has it.
      sync_progress();
      MicroBatch mb;
      mb.processing_time = rt.now();
      mb.records = std::move(buffer);
      buffer.clear();
      const size_t batch_records = buffered;
      stats.records_in += buffered;
      buffered = 0;
      auto out = query.run_batch(mb);
      if (!out) {
        fatal_error = out.error();
        break;
      }
      ++stats.batches;
      tables.batch_ran();
      rt.log().debug("engine {}: batch {}: {} records, {} rows, watermark {} -> {}", cfg.application_id, out->batch,
                     batch_records, out->rows().size(), to_string(out->watermark_start),
                     to_string(out->watermark_end));
      if (eos()) {
        for (const auto& [p, task_out] : out->tasks) {
          if (!tasks.count(p)) continue;  // dropped by an earlier task's failure in this batch: cannot happen, kept safe
          if (nothing_to_commit(p, task_out, mb, *out)) continue;
          commit_task(p, task_out, *out);
          if (fatal_error) break;
        }
      } else {
        commit_batch_alo(mb, *out);
      }
      next_trigger = std::max(next_trigger + cfg.trigger_interval, rt.now());
      // BUGGIFY: the next trigger fires a whole interval late (a slow host, a
      // long GC pause): batches grow, the session and transactions must hold.
      if (rt.buggify("engine.trigger.delayed")) next_trigger = next_trigger + cfg.trigger_interval;
    }
  }

  // ------------------------------------------------------------ progress ---

  // Starts the progress reader (with clients of its own) and waits until it
  // has read every changelog partition to its last stable offset: the
  // instance then starts at or above the highest watermark any instance had
  // committed, before it takes any partition. Suspends; every wait is
  // bounded, and it waits until the reader is done or stop is requested.
  Result<void, EngineError> start_reader() {
    SS_ASSERT(!reader_task.valid() && source_partitions > 0, "the reader starts once, after setup");
    auto ac = k::Config::make(k::Role::admin, {{"bootstrap.servers", cfg.bootstrap_servers}});
    SS_ASSERT(ac.ok(), "the admin properties were validated by setup()");
    auto a = kafka.admin(*ac);
    if (!a) return unexpected(kafka_failure("admin", a.error()));
    auto rc = k::Config::make(k::Role::consumer, concat(cfg.consumer_properties,
                                                        {{"bootstrap.servers", cfg.bootstrap_servers},
                                                         {"isolation.level", "read_committed"},
                                                         {"enable.auto.commit", "false"}}));
    SS_ASSERT(rc.ok(), "the reader's consumer properties were validated by create()");
    auto c = kafka.consumer(*rc);
    if (!c) return unexpected(kafka_failure("progress consumer", c.error()));
    auto reader = std::make_shared<ProgressReader>(rt, std::move(*a), board, std::move(*c), source, changelog,
                                                   source_partitions, cfg.trigger_interval, timeout());
    // The task owns the reader (and through it the board): it never touches
    // this object, so it may end after it.
    reader_task = rt.spawn("engine/" + cfg.application_id + "/progress", [reader] { reader->run(); });
    const Instant started = rt.now();
    Instant warned = started;
    while (!board->caught_up && !stop) {
      rt.sleep_for(Duration::millis(20));
      if (rt.now() - warned >= timeout() * 3) {
        warned = rt.now();
        rt.log().warn("engine {}: still reading the changelog's progress entries ({} records so far)",
                      cfg.application_id, board->records);
      }
    }
    sync_progress();
    SS_ASSERT(stop || board->caught_up, "the instance joins the group only after the startup read");
    return {};
  }

  // Ends the reader's task. With wait, also waits until it has unwound
  // (suspends); without, only cancels it (safe while this task unwinds).
  void stop_reader(bool wait) {
    board->stop = true;
    if (!reader_task.valid() || reader_task.done()) return;
    reader_task.cancel();
    if (wait) reader_task.join();
  }

  // At a batch boundary: hands the committed progress of every partition this
  // instance does not own to the query (WatermarkTracker::set_remote). Does
  // not suspend: the reader's task keeps the board current.
  void sync_progress() {
    const Instant now = rt.now();
    for (int32_t p = 0; p < source_partitions; ++p) {
      if (query.task(p)) continue;
      auto it = board->latest.find(p);
      query.set_remote_progress(p, it == board->latest.end() ? std::nullopt : std::optional(it->second), now);
    }
  }

  Result<void, EngineError> run() {
    SS_ASSERT(!ran, "EngineInstance::run is called once");
    ran = true;
    // A cancelled run() unwinds without suspending: the reader is only cancelled.
    struct ReaderGuard {
      Impl& s;
      ~ReaderGuard() { s.stop_reader(/*wait=*/false); }
    } guard{*this};
    auto r = run_member();
    stop_reader(/*wait=*/true);
    return r;
  }

  Result<void, EngineError> run_member() {
    if (auto s = setup(); !s) return s;
    if (auto s = start_reader(); !s) return s;
    auto cc = k::Config::make(k::Role::consumer, consumer_props);
    SS_ASSERT(cc.ok(), "the consumer properties were validated by create()");
    for (int rejoins = 0;; ++rejoins) {
      if (stop) return {};
      if (rejoins > cfg.max_rejoins)
        return unexpected(EngineError{EngineErrc::kafka_error, "max_rejoins",
                                      "gave partitions up more than max_rejoins (" + std::to_string(cfg.max_rejoins) +
                                          ") times"});
      rejoin = false;
      auto c = kafka.consumer(*cc);
      if (!c) return unexpected(kafka_failure("consumer", c.error()));
      consumer = std::move(*c);
      if (auto s = consumer->subscribe({source}, this); !s) return unexpected(kafka_failure("subscribe", s.error()));
      batch_loop();
      // Leave the group (the revocation closes every task), or, after a
      // fatal producer error, rejoin as a new member.
      if (auto cl = consumer->close(timeout()); !cl)
        rt.log().warn("engine {}: consumer close: {}", cfg.application_id, describe(cl.error()));
      for (int32_t p : query.partitions()) close_task(p);
      tasks.clear();
      board->owned.clear();
      consumer.reset();
      if (fatal_error) return unexpected(*fatal_error);
      if (!stop) ++stats.rejoins;
    }
  }
};

// ------------------------------------------------------------------ create ---

Result<std::unique_ptr<EngineInstance>, EngineError> EngineInstance::create(Runtime& rt, k::Kafka& kafka,
                                                                            Pipeline pipeline, InstanceConfig cfg) {
  const PipelinePlan& plan = pipeline.plan();
  if (cfg.application_id.empty()) return unexpected(config_error("application_id", "must not be empty"));
  if (cfg.bootstrap_servers.empty()) return unexpected(config_error("bootstrap_servers", "must not be empty"));
  if (cfg.trigger_interval <= Duration::zero()) return unexpected(config_error("trigger_interval", "must be positive"));
  if (cfg.kafka_timeout <= Duration::zero()) return unexpected(config_error("kafka_timeout", "must be positive"));
  if (cfg.max_records_per_batch == 0 || cfg.max_records_per_batch > cfg.engine.limits.max_records_per_batch)
    return unexpected(config_error("max_records_per_batch",
                                   "must be in [1, engine.limits.max_records_per_batch = " +
                                       std::to_string(cfg.engine.limits.max_records_per_batch) + "]"));
  if (cfg.changelog_replication < 1) return unexpected(config_error("changelog_replication", "must be at least 1"));
  if (cfg.max_rejoins < 0) return unexpected(config_error("max_rejoins", "must not be negative"));
  if (!cfg.encoder) return unexpected(config_error("encoder", "must be set"));
  if (plan.sink_topic.empty()) return unexpected(config_error("sink", "the pipeline has no sink topic"));
  if (plan.sink_topic == plan.source_topic)
    return unexpected(config_error("sink", "the sink topic must differ from the source topic"));
  if (plan.late_policy == LatePolicy::route && cfg.late_topic.empty())
    return unexpected(config_error("late_topic", "the pipeline routes late events: name the late-events topic"));
  if (plan.dead_letter_policy == DeadLetterPolicy::route && cfg.dead_letter_topic.empty())
    return unexpected(config_error("dead_letter_topic", "the pipeline routes dead letters: name the dead-letter topic"));

  // Properties the instance owns.
  for (const char* name : {"transactional.id", "bootstrap.servers"})
    if (find_prop(cfg.producer_properties, name))
      return unexpected(config_error(std::string("producer_properties.") + name, "is set by the engine instance"));
  for (const char* name : {"group.id", "bootstrap.servers", "group.instance.id"})
    if (find_prop(cfg.consumer_properties, name))
      return unexpected(config_error(std::string("consumer_properties.") + name, "is set by the engine instance"));
  if (auto v = find_prop(cfg.consumer_properties, "enable.auto.commit"); v && *v != "false")
    return unexpected(config_error("consumer_properties.enable.auto.commit",
                                   "must be false: the engine commits offsets with its batches"));
  if (auto v = find_prop(cfg.consumer_properties, "isolation.level");
      v && *v != "read_committed" && cfg.mode == DeliveryMode::exactly_once)
    return unexpected(config_error("consumer_properties.isolation.level",
                                   "must be read_committed in exactly-once mode (aborted input must stay invisible)"));

  // Defaults first, the user's properties next, the instance's own last.
  Props producer_props = concat(concat({{"linger.ms", "5"}}, cfg.producer_properties),
                                {{"bootstrap.servers", cfg.bootstrap_servers}, {"enable.idempotence", "true"}});
  Props consumer_props = concat(concat({{"auto.offset.reset", "earliest"}}, cfg.consumer_properties),
                                {{"bootstrap.servers", cfg.bootstrap_servers},
                                 {"group.id", cfg.application_id},
                                 {"enable.auto.commit", "false"}});
  if (cfg.mode == DeliveryMode::exactly_once) consumer_props.push_back({"isolation.level", "read_committed"});

  auto pc = k::Config::make(k::Role::producer,
                            cfg.mode == DeliveryMode::exactly_once
                                ? concat(producer_props, {{"transactional.id", transactional_id(cfg.application_id,
                                                                                               plan.source_topic, 0)}})
                                : producer_props);
  if (!pc) return unexpected(config_error("producer_properties." + pc.error().property, pc.error().message));
  auto cc = k::Config::make(k::Role::consumer, consumer_props);
  if (!cc) return unexpected(config_error("consumer_properties." + cc.error().property, cc.error().message));

  if (cfg.mode == DeliveryMode::exactly_once) {
    // A batch's transaction is open from its first produce until its commit
    // returns: at most the TEST pause plus send_offsets and commit, each
    // bounded by kafka_timeout, and a batch may start up to a trigger interval
    // late. The coordinator must not abort it first.
    const Duration txn_timeout = Duration::millis(pc->num("transaction.timeout.ms"));
    const Duration needed = cfg.trigger_interval + cfg.kafka_timeout * 2 + cfg.TEST_pause_before_commit;
    if (txn_timeout < needed)
      return unexpected(config_error(
          "producer_properties.transaction.timeout.ms",
          std::to_string(pc->num("transaction.timeout.ms")) + " ms is shorter than trigger_interval + 2 * kafka_timeout (" +
              std::to_string(needed.ns() / 1'000'000) + " ms): the coordinator could abort a batch's transaction "
              "while it is being committed"));
  }

  auto impl = std::make_unique<Impl>(rt, kafka, std::move(pipeline), std::move(cfg), std::move(producer_props),
                                     std::move(consumer_props));
  return std::unique_ptr<EngineInstance>(new EngineInstance(std::move(impl)));
}

EngineInstance::EngineInstance(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EngineInstance::~EngineInstance() {
  // A task started by start() references this object. In a crash the kernel
  // unwinds the youngest task first, so it has ended by now; otherwise end it.
  if (impl_->task.valid() && !impl_->task.done()) {
    impl_->task.cancel();
    impl_->task.join();
  }
  // The progress reader's task uses the Kafka world's clients: it must have
  // unwound before the caller can destroy that world.
  if (impl_->reader_task.valid() && !impl_->reader_task.done()) {
    impl_->reader_task.cancel();
    impl_->reader_task.join();
  }
}

Result<void, EngineError> EngineInstance::run() {
  auto r = impl_->run();
  impl_->result = r;
  if (!r) impl_->rt.log().error("engine {}: stopped: {}", impl_->cfg.application_id, r.error().format());
  return r;
}

TaskHandle EngineInstance::start() {
  SS_ASSERT(!impl_->task.valid(), "EngineInstance::start is called once");
  impl_->task = impl_->rt.spawn("engine/" + impl_->cfg.application_id, [this] { (void)run(); });
  return impl_->task;
}

const std::optional<Result<void, EngineError>>& EngineInstance::result() const { return impl_->result; }
void EngineInstance::request_stop() { impl_->stop = true; }
const InstanceStats& EngineInstance::stats() const { return impl_->stats; }
std::vector<int32_t> EngineInstance::partitions() const { return impl_->query.partitions(); }
Watermark EngineInstance::watermark() const { return impl_->query.watermark(); }
bool EngineInstance::committing() const { return impl_->committing; }

}  // namespace streamsim::engine
