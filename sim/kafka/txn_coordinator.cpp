// The transaction coordinator: see txn_coordinator.h for the model.
#include "txn_coordinator.h"

#include "broker.h"

#include <streamsim/core/assert.h>

#include <spdlog/logger.h>

#include <charconv>
#include <limits>
#include <sstream>

namespace streamsim::sim::kafka {

namespace {

constexpr Duration kAppendTimeout = Duration::seconds(5);     // one coordinator write (acks=all)
constexpr Duration kMarkerTimeout = Duration::seconds(5);     // one WriteTxnMarkers round trip
constexpr Duration kMarkerBackoff = Duration::millis(50);     // between marker rounds
constexpr int kMarkerRounds = 600;                            // then run() restarts the task
constexpr Duration kCheckInterval = Duration::millis(100);    // run(): timeouts, loads, restarts
constexpr Duration kLoadWaitMax = Duration::seconds(30);      // a load waits this long for older writes
constexpr int kCompleteWriteAttempts = 20;                    // CompleteX write retries per task

bool parse_i64(std::string_view s, int64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool is_prepare(TxnState s) { return s == TxnState::prepare_commit || s == TxnState::prepare_abort; }

}  // namespace

const char* to_string(TxnState s) {
  switch (s) {
    case TxnState::empty: return "Empty";
    case TxnState::ongoing: return "Ongoing";
    case TxnState::prepare_commit: return "PrepareCommit";
    case TxnState::prepare_abort: return "PrepareAbort";
    case TxnState::complete_commit: return "CompleteCommit";
    case TxnState::complete_abort: return "CompleteAbort";
  }
  return "?";
}

// One field per line, so a topic name (which cannot hold a newline) needs no
// escaping: version, producer id, epoch, timeout ns, state, start ns, partition
// count, then "partition topic" per partition.
std::string encode_txn_metadata(const TxnMetadata& m) {
  std::string out = "1\n" + std::to_string(m.producer_id) + "\n" + std::to_string(m.producer_epoch) + "\n" +
                    std::to_string(m.timeout.ns()) + "\n" + std::to_string(static_cast<int>(m.state)) + "\n" +
                    std::to_string(m.start.ns()) + "\n" + std::to_string(m.partitions.size()) + "\n";
  for (const TopicPartition& tp : m.partitions) {
    SS_ASSERT(tp.topic.find('\n') == std::string::npos, "a topic name with a newline");
    out += std::to_string(tp.partition) + " " + tp.topic + "\n";
  }
  return out;
}

std::optional<TxnMetadata> decode_txn_metadata(std::string_view s) {
  std::vector<std::string_view> lines;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // every field ends with a newline
    lines.push_back(s.substr(0, nl));
    s.remove_prefix(nl + 1);
  }
  if (lines.size() < 7 || lines[0] != "1") return std::nullopt;
  int64_t v[6];
  for (int i = 0; i < 6; ++i) {
    if (!parse_i64(lines[static_cast<size_t>(i) + 1], &v[i])) return std::nullopt;
  }
  if (v[1] < 0 || v[1] > std::numeric_limits<int16_t>::max() || v[3] < 0 || v[3] > 5 || v[5] < 0 ||
      static_cast<size_t>(v[5]) != lines.size() - 7)
    return std::nullopt;
  TxnMetadata m;
  m.producer_id = v[0];
  m.producer_epoch = static_cast<int16_t>(v[1]);
  m.timeout = Duration::nanos(v[2]);
  m.state = static_cast<TxnState>(v[3]);
  m.start = Instant::from_ns(v[4]);
  for (size_t i = 7; i < lines.size(); ++i) {
    size_t sp = lines[i].find(' ');
    int64_t part = 0;
    if (sp == std::string_view::npos || !parse_i64(lines[i].substr(0, sp), &part) || part < 0 ||
        part > std::numeric_limits<int32_t>::max())
      return std::nullopt;
    m.partitions.insert(TopicPartition{std::string(lines[i].substr(sp + 1)), static_cast<int32_t>(part)});
  }
  return m;
}

TxnCoordinator::TxnCoordinator(Broker& broker) : broker_(broker) {}
TxnCoordinator::~TxnCoordinator() = default;

int32_t TxnCoordinator::partitions() const {
  const MetadataImage* img = broker_.image();
  if (img == nullptr) return 0;
  auto it = img->topics.find(kTransactionTopic);
  return it == img->topics.end() ? 0 : it->second.partitions;
}

TxnCoordinator::Shard* TxnCoordinator::shard_at(int32_t p, int32_t epoch) {
  auto it = shards_.find(p);
  if (it == shards_.end() || it->second.leader_epoch != epoch || !it->second.loaded) return nullptr;
  // Leadership may have moved while the caller was suspended; run() forgets the
  // shard soon, but nothing may be decided for it meanwhile.
  PartitionHost* h = broker_.host(TopicPartition{kTransactionTopic, p});
  if (h == nullptr || !h->replica.is_leader() || h->replica.leader_epoch() != epoch) return nullptr;
  return &it->second;
}

Result<int32_t, Errc> TxnCoordinator::shard_for(const std::string& id) {
  const int32_t n = partitions();
  if (n == 0) return unexpected(Errc::not_coordinator);
  const int32_t p = coordinator_partition(id, n);
  PartitionHost* h = broker_.host(TopicPartition{kTransactionTopic, p});
  if (h == nullptr || !h->replica.is_leader()) return unexpected(Errc::not_coordinator);
  const int32_t epoch = h->replica.leader_epoch();
  auto it = shards_.find(p);
  if (it == shards_.end() || it->second.leader_epoch != epoch) {
    start_load(p, epoch);
    return unexpected(Errc::coordinator_load_in_progress);
  }
  if (!it->second.loaded) return unexpected(Errc::coordinator_load_in_progress);
  // BUGGIFY: as the group coordinator's kafka.group.load_in_progress.
  if (broker_.runtime().buggify("kafka.txn.load_in_progress")) return unexpected(Errc::coordinator_load_in_progress);
  return p;
}

void TxnCoordinator::start_load(int32_t p, int32_t epoch) {
  auto& rt = broker_.runtime();
  Shard fresh;
  fresh.leader_epoch = epoch;
  shards_[p] = std::move(fresh);  // replaces a shard of an older epoch
  rt.trace("kafka/txn_load_start", static_cast<uint64_t>(p), static_cast<uint64_t>(epoch));
  rt.spawn("txn-load-" + std::to_string(p), [this, p, epoch] { load(p, epoch); });
}

void TxnCoordinator::load(int32_t p, int32_t epoch) {
  auto& rt = broker_.runtime();
  // Writes started under an older epoch may still append to this log; wait for
  // them so the read below sees their records (new writes need a loaded shard).
  const Instant deadline = rt.now() + kLoadWaitMax;
  while (writes_in_flight_[p] > 0) {
    if (writes_done_.wait_until(rt, deadline) == WakeReason::timed_out) break;
  }
  const TopicPartition tp{kTransactionTopic, p};
  PartitionHost* h = broker_.host(tp);
  auto still_mine = [&] {
    auto it = shards_.find(p);
    PartitionHost* hh = broker_.host(tp);
    return it != shards_.end() && it->second.leader_epoch == epoch && !it->second.loaded && hh != nullptr &&
           hh->replica.is_leader() && hh->replica.leader_epoch() == epoch;
  };
  if (h == nullptr || !still_mine() || writes_in_flight_[p] > 0) {
    // Lost the partition meanwhile (or older writes are stuck): forget this
    // attempt; the next request or run() starts another.
    auto it = shards_.find(p);
    if (it != shards_.end() && it->second.leader_epoch == epoch && !it->second.loaded) shards_.erase(it);
    return;
  }
  // Kafka loads up to the log end: as leader, everything in this log will be
  // committed unless this broker loses the partition (and then the shard goes).
  auto batches = h->log.read(h->log.start_offset(), UINT64_MAX);
  SS_ASSERT(batches.ok(), "reading the transaction log from its start failed");
  std::map<std::string, TxnMetadata> txns;
  size_t records = 0;
  for (const Batch& b : *batches) {
    if (b.control != ControlType::none) continue;
    for (const Record& r : b.records) {
      SS_ASSERT(r.key.has_value() && r.value.has_value(), "a transaction log record without key or value");
      auto m = decode_txn_metadata(*r.value);
      SS_ASSERT(m.has_value(), "a malformed transaction log record");
      txns[*r.key] = *m;  // the last record of an id wins
      ++records;
    }
  }
  // Reading the log takes disk time; requests meanwhile get coordinator_load_in_progress.
  rt.sleep_for(Duration::millis(1) + Duration::micros(10) * static_cast<int64_t>(records));
  if (!still_mine()) {
    auto it = shards_.find(p);
    if (it != shards_.end() && it->second.leader_epoch == epoch && !it->second.loaded) shards_.erase(it);
    return;
  }
  Shard& s = shards_[p];
  s.txns = std::move(txns);
  s.loaded = true;
  rt.trace("kafka/txn_loaded", static_cast<uint64_t>(p), s.txns.size());
  rt.log().info("{}-{}: transaction coordinator loaded {} ids at epoch {}", kTransactionTopic, p, s.txns.size(),
                epoch);
}

void TxnCoordinator::sync_shards() {
  // Forget shards of partitions this broker no longer leads at their epoch.
  for (auto it = shards_.begin(); it != shards_.end();) {
    PartitionHost* h = broker_.host(TopicPartition{kTransactionTopic, it->first});
    if (h == nullptr || !h->replica.is_leader() || h->replica.leader_epoch() != it->second.leader_epoch) {
      broker_.runtime().trace("kafka/txn_unload", static_cast<uint64_t>(it->first),
                              static_cast<uint64_t>(it->second.leader_epoch));
      broker_.runtime().probe("kafka.txn_coordinator_moved");
      it = shards_.erase(it);
    } else {
      ++it;
    }
  }
  // Load partitions led at a new epoch without waiting for a client, so timeouts
  // and unfinished commits proceed after a failover.
  const int32_t n = partitions();
  for (int32_t p = 0; p < n; ++p) {
    PartitionHost* h = broker_.host(TopicPartition{kTransactionTopic, p});
    if (h == nullptr || !h->replica.is_leader()) continue;
    auto it = shards_.find(p);
    if (it == shards_.end() || it->second.leader_epoch != h->replica.leader_epoch())
      start_load(p, h->replica.leader_epoch());
  }
}

void TxnCoordinator::run() {
  auto& rt = broker_.runtime();
  for (;;) {
    rt.sleep_for(kCheckInterval);
    sync_shards();
    // Decide first (ordered maps: deterministic), then act in tasks, since each
    // action suspends and the maps may change meanwhile.
    std::vector<std::pair<int32_t, std::string>> to_abort, to_complete;
    std::vector<int32_t> epochs_abort, epochs_complete;
    for (auto& [p, s] : shards_) {
      if (!s.loaded) continue;
      for (const auto& [id, m] : s.txns) {
        if (s.pending.count(id) || s.completing.count(id)) continue;
        if (m.state == TxnState::ongoing && rt.now() - m.start > m.timeout) {
          to_abort.emplace_back(p, id);
          epochs_abort.push_back(s.leader_epoch);
        } else if (is_prepare(m.state)) {
          to_complete.emplace_back(p, id);
          epochs_complete.push_back(s.leader_epoch);
        }
      }
    }
    for (size_t i = 0; i < to_abort.size(); ++i) {
      auto [p, id] = to_abort[i];
      const int32_t epoch = epochs_abort[i];
      rt.trace("kafka/txn_timeout", static_cast<uint64_t>(p), static_cast<uint64_t>(epoch));
      rt.probe("kafka.txn_timeout_abort");
      rt.log().info("transaction of {} timed out: aborting", id);
      // Mark it pending now so the next round does not start a second abort.
      shards_[p].pending.insert(id);
      rt.spawn("txn-timeout", [this, p, epoch, id] {
        if (Shard* s = shard_at(p, epoch)) s->pending.erase(id);
        (void)fence_and_abort(p, epoch, id);
      });
    }
    for (size_t i = 0; i < to_complete.size(); ++i) {
      auto [p, id] = to_complete[i];
      const int32_t epoch = epochs_complete[i];
      shards_[p].completing.insert(id);
      rt.spawn("txn-markers", [this, p, epoch, id] { complete(p, epoch, id); });
    }
  }
}

Errc TxnCoordinator::transition(int32_t p, int32_t epoch, const std::string& id, const TxnMetadata& next) {
  auto& rt = broker_.runtime();
  Shard* s = shard_at(p, epoch);
  if (s == nullptr) return Errc::not_coordinator;
  SS_ASSERT(!s->pending.count(id), "two state changes of one transactional.id at once");
  SS_ASSERT(next.producer_id >= 0 && next.producer_epoch >= 0, "a transaction state without producer id or epoch");
  s->pending.insert(id);
  ++writes_in_flight_[p];
  Batch b;
  Record r;
  r.key = id;
  r.value = encode_txn_metadata(next);
  r.timestamp_ms = rt.now().ns() / 1'000'000;
  b.records.push_back(std::move(r));
  ProducePartitionResult res;
  {
    struct Done {
      TxnCoordinator& c;
      int32_t p;
      ~Done() {
        --c.writes_in_flight_[p];
        c.writes_done_.notify_all();
      }
    } done{*this, p};
    res = broker_.append_and_wait(TopicPartition{kTransactionTopic, p}, b, -1, kAppendTimeout);
  }
  s = shard_at(p, epoch);
  if (s == nullptr) return Errc::not_coordinator;  // another shard (or none) owns the id now
  s->pending.erase(id);
  switch (res.error) {
    case Errc::no_error:
      break;
    // Kafka's mapping of append errors for the coordinator's clients.
    case Errc::not_leader_or_follower:
      return Errc::not_coordinator;
    default:
      return Errc::coordinator_not_available;
  }
  s->txns[id] = next;
  rt.trace("kafka/txn_state", static_cast<uint64_t>(next.producer_id),
           static_cast<uint64_t>(next.state) | (static_cast<uint64_t>(next.producer_epoch) << 8));
  return Errc::no_error;
}

std::optional<TxnMetadata> TxnCoordinator::describe(const std::string& id) const {
  for (const auto& [p, s] : shards_) {
    if (!s.loaded) continue;
    auto it = s.txns.find(id);
    if (it != s.txns.end()) return it->second;
  }
  return std::nullopt;
}

TxnCoordinator::InitResult TxnCoordinator::init_producer_id(const InitProducerIdReq& r) {
  InitResult out;
  SS_ASSERT(r.transactional_id.has_value(), "a transactional InitProducerId without transactional.id");
  const std::string& id = *r.transactional_id;
  if (r.transaction_timeout <= Duration::zero() || r.transaction_timeout > kMaxTimeout) {
    out.error = Errc::invalid_transaction_timeout;
    return out;
  }
  auto p = shard_for(id);
  if (!p.ok()) {
    out.error = p.error();
    return out;
  }
  Shard& s = shards_[*p];
  const int32_t epoch = s.leader_epoch;
  if (s.pending.count(id) || s.completing.count(id)) {
    out.error = Errc::concurrent_transactions;
    return out;
  }
  auto it = s.txns.find(id);
  TxnMetadata next;
  if (it == s.txns.end()) {
    next.producer_id = broker_.allocate_producer_id();
    next.producer_epoch = 0;
  } else {
    const TxnMetadata& cur = it->second;
    // KIP-360: a producer that names its id and epoch must name the current ones.
    if (r.producer_id >= 0 && (r.producer_id != cur.producer_id || r.producer_epoch != cur.producer_epoch)) {
      out.error = Errc::producer_fenced;
      return out;
    }
    switch (cur.state) {
      case TxnState::prepare_commit:
      case TxnState::prepare_abort:
        out.error = Errc::concurrent_transactions;  // markers still being written
        return out;
      case TxnState::ongoing: {
        // Fence the previous producer and abort its transaction first; the
        // client retries and gets a new epoch once the abort completed.
        Errc e = fence_and_abort(*p, epoch, id);
        out.error = e == Errc::no_error ? Errc::concurrent_transactions : e;
        return out;
      }
      case TxnState::empty:
      case TxnState::complete_commit:
      case TxnState::complete_abort:
        break;
    }
    next = cur;
    if (cur.producer_epoch >= std::numeric_limits<int16_t>::max() - 1) {
      next.producer_id = broker_.allocate_producer_id();  // epoch exhausted: a new producer id
      next.producer_epoch = 0;
    } else {
      next.producer_epoch = static_cast<int16_t>(cur.producer_epoch + 1);
    }
  }
  next.timeout = r.transaction_timeout;
  next.state = TxnState::empty;
  next.partitions.clear();
  next.start = broker_.runtime().now();
  out.error = transition(*p, epoch, id, next);
  if (out.error == Errc::no_error) {
    out.producer_id = next.producer_id;
    out.producer_epoch = next.producer_epoch;
    broker_.runtime().trace("kafka/txn_init", static_cast<uint64_t>(next.producer_id),
                            static_cast<uint64_t>(next.producer_epoch));
    if (next.producer_epoch > 0) broker_.runtime().probe("kafka.producer_epoch_bump");
  }
  return out;
}

Errc TxnCoordinator::fence_and_abort(int32_t p, int32_t epoch, const std::string& id) {
  Shard* s = shard_at(p, epoch);
  if (s == nullptr) return Errc::not_coordinator;
  if (s->pending.count(id) || s->completing.count(id)) return Errc::concurrent_transactions;
  auto it = s->txns.find(id);
  if (it == s->txns.end() || it->second.state != TxnState::ongoing) return Errc::no_error;  // decided meanwhile
  TxnMetadata next = it->second;
  SS_ASSERT(next.producer_epoch < std::numeric_limits<int16_t>::max(), "producer epoch overflow");
  // The bumped epoch goes into the markers: partitions then refuse the old
  // producer's writes, and the coordinator its requests (producer_fenced).
  next.producer_epoch = static_cast<int16_t>(next.producer_epoch + 1);
  next.state = TxnState::prepare_abort;
  Errc e = transition(p, epoch, id, next);
  if (e != Errc::no_error) return e;
  broker_.runtime().trace("kafka/txn_fenced", static_cast<uint64_t>(next.producer_id),
                          static_cast<uint64_t>(next.producer_epoch));
  broker_.runtime().probe("kafka.txn_fence_abort");
  s = shard_at(p, epoch);
  if (s != nullptr && !s->completing.count(id)) {
    s->completing.insert(id);
    broker_.runtime().spawn("txn-markers", [this, p, epoch, id] { complete(p, epoch, id); });
  }
  return Errc::no_error;
}

Errc TxnCoordinator::add_partitions(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                                    const std::vector<TopicPartition>& tps) {
  auto p = shard_for(id);
  if (!p.ok()) return p.error();
  Shard& s = shards_[*p];
  auto it = s.txns.find(id);
  if (it == s.txns.end() || it->second.producer_id != producer_id) return Errc::invalid_producer_id_mapping;
  const TxnMetadata& cur = it->second;
  if (cur.producer_epoch != producer_epoch) return Errc::producer_fenced;
  if (s.pending.count(id) || s.completing.count(id) || is_prepare(cur.state)) return Errc::concurrent_transactions;
  const MetadataImage* img = broker_.image();
  for (const TopicPartition& tp : tps) {
    if (img == nullptr || !img->partitions.count(tp)) return Errc::unknown_topic_or_partition;
  }
  bool all_in = cur.state == TxnState::ongoing;
  for (const TopicPartition& tp : tps) all_in = all_in && cur.partitions.count(tp);
  if (all_in) return Errc::no_error;
  TxnMetadata next = cur;
  if (cur.state != TxnState::ongoing) {
    next.partitions.clear();
    next.start = broker_.runtime().now();  // the transaction timeout counts from its first partition
  }
  next.state = TxnState::ongoing;
  next.partitions.insert(tps.begin(), tps.end());
  return transition(*p, s.leader_epoch, id, next);
}

Errc TxnCoordinator::end_txn(const EndTxnReq& r) {
  auto p = shard_for(r.transactional_id);
  if (!p.ok()) return p.error();
  Shard& s = shards_[*p];
  const int32_t epoch = s.leader_epoch;
  auto it = s.txns.find(r.transactional_id);
  if (it == s.txns.end() || it->second.producer_id != r.producer_id) return Errc::invalid_producer_id_mapping;
  const TxnMetadata& cur = it->second;
  if (cur.producer_epoch != r.producer_epoch) return Errc::producer_fenced;
  if (s.pending.count(r.transactional_id)) return Errc::concurrent_transactions;
  const TxnState want_prepare = r.committed ? TxnState::prepare_commit : TxnState::prepare_abort;
  const TxnState want_complete = r.committed ? TxnState::complete_commit : TxnState::complete_abort;
  switch (cur.state) {
    case TxnState::ongoing:
      break;
    case TxnState::prepare_commit:
    case TxnState::prepare_abort:
      // A retry of the same decision waits for its markers; the other is wrong.
      return cur.state == want_prepare ? Errc::concurrent_transactions : Errc::invalid_txn_state;
    case TxnState::complete_commit:
    case TxnState::complete_abort:
      return cur.state == want_complete ? Errc::no_error : Errc::invalid_txn_state;  // a retry after success
    case TxnState::empty:
      return Errc::invalid_txn_state;
  }
  if (s.completing.count(r.transactional_id)) return Errc::concurrent_transactions;
  TxnMetadata next = cur;
  next.state = want_prepare;
  Errc e = transition(*p, epoch, r.transactional_id, next);
  if (e != Errc::no_error) return e;
  broker_.runtime().trace("kafka/txn_end", static_cast<uint64_t>(next.producer_id), r.committed ? 1 : 0);
  // The decision is durable: answer now; the markers follow in their own task.
  Shard* sp = shard_at(*p, epoch);
  if (sp != nullptr && !sp->completing.count(r.transactional_id)) {
    sp->completing.insert(r.transactional_id);
    std::string id = r.transactional_id;
    const int32_t part = *p;
    broker_.runtime().spawn("txn-markers", [this, part, epoch, id] { complete(part, epoch, id); });
  }
  return Errc::no_error;
}

Errc TxnCoordinator::write_markers(const TopicPartition& tp, BrokerId leader, const TxnMetadata& m,
                                   int32_t coordinator_epoch) {
  auto req = std::make_shared<WriteTxnMarkersReq>();
  TxnMarker mk;
  mk.producer_id = m.producer_id;
  mk.producer_epoch = m.producer_epoch;
  mk.coordinator_epoch = coordinator_epoch;
  mk.committed = m.state == TxnState::prepare_commit;
  mk.partitions.push_back(tp);
  req->markers.push_back(std::move(mk));
  req->timeout = kMarkerTimeout;
  std::shared_ptr<const Payload> resp;
  if (leader == broker_.id()) {
    resp = broker_.handle_write_txn_markers(*req);
  } else {
    auto& rt = broker_.runtime();
    auto r = rt.net().call(rt, rt.id(), broker_.broker_node(leader), kBrokerPort, req,
                           kMarkerTimeout + Duration::millis(500));
    if (!r.ok()) return Errc::request_timed_out;
    resp = *r;
  }
  const auto& res = payload_as<WriteTxnMarkersResp>(resp);
  SS_ASSERT(res.results.size() == 1 && res.results[0].size() == 1, "WriteTxnMarkers answered another request");
  return res.results[0][0].second;
}

void TxnCoordinator::complete(int32_t p, int32_t epoch, std::string id) {
  auto& rt = broker_.runtime();
  struct Clear {
    TxnCoordinator& c;
    int32_t p, epoch;
    const std::string& id;
    ~Clear() {
      if (Shard* s = c.shard_at(p, epoch)) s->completing.erase(id);
    }
  } clear{*this, p, epoch, id};
  Shard* s = shard_at(p, epoch);
  if (s == nullptr) return;
  auto it = s->txns.find(id);
  if (it == s->txns.end() || !is_prepare(it->second.state)) return;
  const TxnMetadata prepared = it->second;
  auto still_prepared = [&] {
    Shard* sh = shard_at(p, epoch);
    if (sh == nullptr) return false;
    auto t = sh->txns.find(id);
    return t != sh->txns.end() && t->second == prepared;
  };
  std::set<TopicPartition> left = prepared.partitions;
  for (int round = 0; round < kMarkerRounds && !left.empty(); ++round) {
    if (round > 0) rt.sleep_for(kMarkerBackoff);
    // Partition leaders come from this broker's metadata image, which follows
    // leader moves through the controller heartbeat.
    std::vector<TopicPartition> todo(left.begin(), left.end());
    for (const TopicPartition& tp : todo) {
      if (!still_prepared()) return;  // decided by a newer coordinator, or this one lost the id
      const MetadataImage* img = broker_.image();
      if (img == nullptr) continue;
      auto pit = img->partitions.find(tp);
      if (pit == img->partitions.end() || pit->second.leader < 0) continue;  // no leader now: next round
      Errc e = write_markers(tp, pit->second.leader, prepared, epoch);
      if (e == Errc::no_error) {
        left.erase(tp);
        continue;
      }
      if (e == Errc::transaction_coordinator_fenced || e == Errc::producer_fenced) {
        // A newer coordinator of this producer wrote to the partition: this one is stale.
        rt.trace("kafka/txn_marker_fenced", static_cast<uint64_t>(p), static_cast<uint64_t>(epoch));
        return;
      }
    }
  }
  if (!left.empty()) return;  // run() starts another task later
  TxnMetadata done = prepared;
  done.state = prepared.state == TxnState::prepare_commit ? TxnState::complete_commit : TxnState::complete_abort;
  done.partitions.clear();
  for (int attempt = 0; attempt < kCompleteWriteAttempts; ++attempt) {
    if (!still_prepared()) return;
    s = shard_at(p, epoch);
    if (s->pending.count(id)) {
      rt.sleep_for(kMarkerBackoff);
      continue;
    }
    Errc e = transition(p, epoch, id, done);
    if (e == Errc::no_error) {
      rt.trace("kafka/txn_complete", static_cast<uint64_t>(done.producer_id),
               done.state == TxnState::complete_commit ? 1 : 0);
      return;
    }
    if (e == Errc::not_coordinator) return;
    rt.sleep_for(kMarkerBackoff);
  }
}

}  // namespace streamsim::sim::kafka
