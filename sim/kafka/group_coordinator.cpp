// The group coordinator's state machine, persistence and loading (see
// group_coordinator.h). The request handlers live in join_group.cpp,
// sync_group.cpp, heartbeat.cpp, leave_group.cpp, offset_commit.cpp,
// offset_fetch.cpp and txn_offset_commit.cpp.
#include "group_coordinator.h"

#include "broker.h"

#include <streamsim/core/assert.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace streamsim::sim::kafka {

const char* to_string(GroupState s) {
  switch (s) {
    case GroupState::empty: return "Empty";
    case GroupState::preparing_rebalance: return "PreparingRebalance";
    case GroupState::completing_rebalance: return "CompletingRebalance";
    case GroupState::stable: return "Stable";
    case GroupState::dead: return "Dead";
  }
  return "?";
}

namespace {

constexpr Duration kStoreTimeout = Duration::seconds(5);  // Kafka's offsets.commit.timeout.ms
constexpr Duration kIdleTick = Duration::seconds(1);      // no __consumer_offsets partition hosted
constexpr Duration kBusyTick = Duration::millis(100);     // leadership checks while hosting some
constexpr Duration kLoadChunkTime = Duration::millis(1);  // simulated read time per chunk while loading
constexpr uint64_t kLoadChunkBytes = 1 << 20;

// Records of __consumer_offsets: a typed key (offset commit or group metadata)
// and a value; integers little-endian, strings length-prefixed. Only this file
// writes them, and decode() rejects anything malformed rather than trusting it.
enum class RecordType : uint8_t { offset = 1, group = 2 };

class Writer {
 public:
  void u8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void i32(int32_t v) { put(static_cast<uint64_t>(static_cast<uint32_t>(v)), 4); }
  void i64(int64_t v) { put(static_cast<uint64_t>(v), 8); }
  void str(std::string_view v) {
    i32(static_cast<int32_t>(v.size()));
    s_.append(v);
  }
  std::string take() { return std::move(s_); }

 private:
  void put(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string s_;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == s_.size(); }
  uint8_t u8() { return static_cast<uint8_t>(get(1)); }
  int32_t i32() { return static_cast<int32_t>(static_cast<uint32_t>(get(4))); }
  int64_t i64() { return static_cast<int64_t>(get(8)); }
  std::string str() {
    int32_t n = i32();
    if (!ok_ || n < 0 || static_cast<size_t>(n) > s_.size() - pos_) {
      ok_ = false;
      return {};
    }
    std::string out(s_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  // A count of following items, each at least `min_item` bytes: refuses counts
  // the remaining bytes cannot hold, so a bad length cannot make a huge vector.
  size_t count(size_t min_item) {
    int32_t n = i32();
    if (!ok_ || n < 0 || static_cast<size_t>(n) * min_item > s_.size() - pos_) {
      ok_ = false;
      return 0;
    }
    return static_cast<size_t>(n);
  }

 private:
  uint64_t get(int bytes) {
    if (!ok_ || s_.size() - pos_ < static_cast<size_t>(bytes)) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s_[pos_ + i])) << (8 * i);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }
  std::string_view s_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::string offset_key(const std::string& group, const TopicPartition& tp) {
  Writer w;
  w.u8(static_cast<uint8_t>(RecordType::offset));
  w.str(group);
  w.str(tp.topic);
  w.i32(tp.partition);
  return w.take();
}

std::string group_key(const std::string& group) {
  Writer w;
  w.u8(static_cast<uint8_t>(RecordType::group));
  w.str(group);
  return w.take();
}

}  // namespace

GroupCoordinator::GroupCoordinator(Broker& broker) : broker_(broker) {}

GroupCoordinator::~GroupCoordinator() {
  // Parked requests hold their group; mark every group dead so none acts on it.
  for (auto& [id, g] : groups_) g->state = GroupState::dead;
}

// ------------------------------------------------------------- lookups ---

Result<TopicPartition, Errc> GroupCoordinator::check_coordinator(const std::string& group_id) {
  const MetadataImage* img = broker_.image();
  if (img == nullptr) return unexpected(Errc::not_coordinator);
  auto t = img->topics.find(kOffsetsTopic);
  if (t == img->topics.end()) return unexpected(Errc::not_coordinator);
  TopicPartition tp{kOffsetsTopic, coordinator_partition(group_id, t->second.partitions)};
  PartitionHost* h = broker_.host(tp);
  if (h == nullptr || !h->replica.is_leader()) return unexpected(Errc::not_coordinator);
  const int32_t epoch = h->replica.leader_epoch();
  PartitionLoad& pl = partitions_[tp.partition];
  // BUGGIFY: COORDINATOR_LOAD_IN_PROGRESS although the load is done (a real
  // coordinator answers it for a while after every leader change); retriable.
  if (pl.loaded_epoch == epoch && broker_.runtime().buggify("kafka.group.load_in_progress")) {
    return unexpected(Errc::coordinator_load_in_progress);
  }
  if (pl.loaded_epoch == epoch) return tp;
  if (pl.loading_epoch != epoch) {
    pl.loading_epoch = epoch;
    broker_.runtime().spawn("group-load-" + std::to_string(tp.partition), [this, tp, epoch] { load(tp, epoch); });
  }
  return unexpected(Errc::coordinator_load_in_progress);
}

int32_t GroupCoordinator::loaded_epoch(const TopicPartition& tp) {
  auto it = partitions_.find(tp.partition);
  return it == partitions_.end() ? -1 : it->second.loaded_epoch;
}

bool GroupCoordinator::still_loaded(const TopicPartition& tp, int32_t epoch) {
  PartitionHost* h = broker_.host(tp);
  return h != nullptr && h->replica.is_leader() && h->replica.leader_epoch() == epoch && loaded_epoch(tp) == epoch;
}

GroupCoordinator::GroupPtr GroupCoordinator::find(const std::string& group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second;
}

GroupCoordinator::GroupPtr GroupCoordinator::get_or_create(const std::string& group_id, int32_t partition) {
  auto& slot = groups_[group_id];
  if (!slot) {
    slot = std::make_shared<Group>();
    slot->id = group_id;
    slot->offsets_partition = partition;
  }
  SS_ASSERT(slot->offsets_partition == partition, "a group moved to another __consumer_offsets partition");
  return slot;
}

std::string GroupCoordinator::new_member_id(const std::string& client_id) {
  // Kafka: client id, '-', a random UUID. The broker's seeded stream keeps it deterministic.
  Rng& r = broker_.runtime().random();
  const uint64_t a = r.next_u64();
  const uint64_t b = r.next_u64();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return (client_id.empty() ? std::string("consumer") : client_id) + "-" + buf;
}

Duration GroupCoordinator::max_rebalance_timeout(const Group& g) const {
  Duration d = Duration::zero();
  for (const auto& [id, m] : g.members) d = std::max(d, m.rebalance_timeout);
  return d;
}

bool GroupCoordinator::supports_protocols(const Group& g, const std::vector<JoinGroupProtocol>& protocols) const {
  if (g.members.empty()) return !protocols.empty();
  for (const auto& p : protocols) {
    bool all = true;
    for (const auto& [id, m] : g.members) {
      all = all && std::any_of(m.protocols.begin(), m.protocols.end(), [&](const auto& q) { return q.name == p.name; });
    }
    if (all) return true;
  }
  return false;
}

// Kafka's selectProtocol: among the protocols every member supports, each member
// votes for the first in its own order of preference; most votes wins. Ties go
// to the protocol the oldest member prefers (Kafka leaves them to hash order).
std::optional<std::string> GroupCoordinator::select_protocol(const Group& g) const {
  std::vector<const Member*> by_age;
  for (const auto& [id, m] : g.members) by_age.push_back(&m);
  if (by_age.empty()) return std::nullopt;
  std::sort(by_age.begin(), by_age.end(), [](auto* a, auto* b) { return a->join_order < b->join_order; });
  auto supported_by_all = [&](const std::string& name) {
    return std::all_of(by_age.begin(), by_age.end(), [&](const Member* m) {
      return std::any_of(m->protocols.begin(), m->protocols.end(), [&](const auto& q) { return q.name == name; });
    });
  };
  std::vector<std::string> candidates;
  for (const auto& p : by_age.front()->protocols) {
    if (supported_by_all(p.name)) candidates.push_back(p.name);
  }
  if (candidates.empty()) return std::nullopt;
  std::map<std::string, int> votes;
  for (const Member* m : by_age) {
    for (const auto& p : m->protocols) {
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best = candidates.front();
  for (const auto& c : candidates) {
    if (votes[c] > votes[best]) best = c;
  }
  return best;
}

// -------------------------------------------------------- state machine ---

void GroupCoordinator::set_sync_results(Group& g, Errc error) {
  for (auto& [id, m] : g.members) {
    if (!m.awaiting_sync) continue;
    auto r = std::make_shared<SyncGroupResp>();
    r->error = error;
    r->protocol_type = g.protocol_type;
    r->protocol_name = g.protocol_name;
    if (error == Errc::no_error) r->assignment = m.assignment;
    m.sync_result = r;
    m.awaiting_sync = false;
  }
  g.changed.notify_all();
}

void GroupCoordinator::prepare_rebalance(Group& g, const char* reason) {
  SS_ASSERT(g.state != GroupState::dead, "rebalancing a dead group");
  SS_ASSERT(g.state != GroupState::preparing_rebalance, "rebalance already in preparation");
  SimRuntime& rt = broker_.runtime();
  // Members parked in SyncGroup learn that their generation is over.
  if (g.state == GroupState::completing_rebalance) set_sync_results(g, Errc::rebalance_in_progress);
  const bool initial = g.state == GroupState::empty;
  g.state = GroupState::preparing_rebalance;
  g.rebalance_started = rt.now();
  g.initial_delay = initial;
  g.sync_deadline = Instant::never();
  const Duration max = max_rebalance_timeout(g);
  g.join_deadline = rt.now() + (initial ? std::min(broker_.config().group_initial_rebalance_delay, max) : max);
  rt.trace("kafka/group_rebalance", static_cast<uint64_t>(g.generation), g.members.size());
  if (!initial) rt.probe("kafka.group_rebalance");
  rt.log().info("group {}: preparing rebalance of generation {} ({})", g.id, g.generation, reason);
  g.changed.notify_all();
  wake();
}

void GroupCoordinator::maybe_complete_join(Group& g) {
  if (g.state != GroupState::preparing_rebalance || g.initial_delay) return;
  if (!g.pending_members.empty()) return;  // Kafka waits for ids it handed out (KIP-394)
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join) return;
  }
  complete_join(g);
}

void GroupCoordinator::complete_join(Group& g) {
  SS_ASSERT(g.state == GroupState::preparing_rebalance, "join completes only from PreparingRebalance");
  SimRuntime& rt = broker_.runtime();
  // Members that did not rejoin in time are out of the group.
  std::vector<std::string> gone;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join) gone.push_back(id);
  }
  for (const auto& id : gone) {
    g.members.erase(id);
    rt.trace("kafka/group_member_removed", g.members.size(), 1);
    rt.log().info("group {}: member {} did not rejoin in time", g.id, id);
  }
  if (g.leader.empty() || !g.members.count(g.leader)) g.leader.clear();
  ++g.generation;
  g.join_deadline = Instant::never();
  g.initial_delay = false;
  if (g.members.empty()) {
    g.state = GroupState::empty;
    g.protocol_name.clear();
    g.leader.clear();
    rt.trace("kafka/group_empty", static_cast<uint64_t>(g.generation), 0);
    // Kafka writes the empty group so a reload does not resurrect old members.
    auto gp = find(g.id);
    if (gp) {
      const TopicPartition tp{kOffsetsTopic, g.offsets_partition};
      rt.spawn("group-store", [this, gp, tp] { (void)store_group(*gp, tp); });
    }
    g.changed.notify_all();
    return;
  }
  auto proto = select_protocol(g);
  SS_ASSERT(proto.has_value(), "members were admitted only with a protocol in common");
  g.protocol_name = *proto;
  if (g.leader.empty()) {
    const Member* oldest = nullptr;
    for (const auto& [id, m] : g.members) {
      if (oldest == nullptr || m.join_order < oldest->join_order) oldest = &m;
    }
    g.leader = oldest->id;
  }
  g.state = GroupState::completing_rebalance;
  g.sync_deadline = rt.now() + max_rebalance_timeout(g);
  for (auto& [id, m] : g.members) {
    auto r = std::make_shared<JoinGroupResp>();
    r->generation = g.generation;
    r->protocol_type = g.protocol_type;
    r->protocol_name = g.protocol_name;
    r->leader = g.leader;
    r->member_id = id;
    if (id == g.leader) {
      for (const auto& [oid, om] : g.members) {
        JoinGroupMember jm{oid, om.instance_id, {}};
        for (const auto& p : om.protocols) {
          if (p.name == g.protocol_name) jm.metadata = p.metadata;
        }
        r->members.push_back(std::move(jm));
      }
    }
    m.join_result = r;
    m.awaiting_join = false;
    m.assignment.clear();
    m.last_heartbeat = rt.now();
  }
  SS_ASSERT(g.members.count(g.leader) == 1, "the leader is a member");
  rt.trace("kafka/group_generation", static_cast<uint64_t>(g.generation), g.members.size());
  rt.log().info("group {}: generation {} with {} members, protocol {}, leader {}", g.id, g.generation,
                g.members.size(), g.protocol_name, g.leader);
  g.changed.notify_all();
  wake();
}

void GroupCoordinator::remove_member(Group& g, const std::string& member_id, const char* reason) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  SimRuntime& rt = broker_.runtime();
  g.members.erase(it);
  if (g.leader == member_id) g.leader.clear();
  rt.trace("kafka/group_member_removed", g.members.size(), 0);
  rt.log().info("group {}: member {} removed ({})", g.id, member_id, reason);
  switch (g.state) {
    case GroupState::stable:
    case GroupState::completing_rebalance:
      prepare_rebalance(g, reason);
      maybe_complete_join(g);
      break;
    case GroupState::preparing_rebalance:
      maybe_complete_join(g);
      break;
    case GroupState::empty:
    case GroupState::dead:
      break;
  }
  g.changed.notify_all();  // a parked request of the removed member answers unknown_member_id
}

// Kafka's heartbeat expiration and delayed-join completion. A member with a
// parked JoinGroup or SyncGroup is kept alive (Kafka's shouldKeepAlive).
void GroupCoordinator::expire(Group& g) {
  if (g.state == GroupState::dead) return;
  const Instant now = broker_.runtime().now();
  for (auto it = g.pending_members.begin(); it != g.pending_members.end();) {
    it = it->second <= now ? g.pending_members.erase(it) : std::next(it);
  }
  std::vector<std::string> expired;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join && !m.awaiting_sync && m.last_heartbeat + m.session_timeout <= now) expired.push_back(id);
  }
  for (const auto& id : expired) {
    broker_.runtime().trace("kafka/group_session_expired", static_cast<uint64_t>(g.generation), 0);
    broker_.runtime().probe("kafka.group_session_expired");
    remove_member(g, id, "session timeout");
  }
  if (g.state == GroupState::preparing_rebalance) {
    if (now >= g.join_deadline) {
      complete_join(g);
    } else {
      maybe_complete_join(g);  // pending members may have expired
    }
  }
  if (g.state == GroupState::completing_rebalance && now >= g.sync_deadline) {
    // The leader never sent its assignment: members that did not sync are out
    // (Kafka's pending-sync expiry), and the rest rejoin.
    std::vector<std::string> unsynced;
    for (const auto& [id, m] : g.members) {
      if (!m.awaiting_sync) unsynced.push_back(id);
    }
    for (const auto& id : unsynced) remove_member(g, id, "no SyncGroup within the rebalance timeout");
  }
}

// --------------------------------------------------------- persistence ---

Errc GroupCoordinator::map_append_error(Errc e) {
  // Kafka's GroupMetadataManager mapping of append errors.
  switch (e) {
    case Errc::no_error:
      return Errc::no_error;
    case Errc::unknown_topic_or_partition:
    case Errc::not_enough_replicas:
    case Errc::not_enough_replicas_after_append:
    case Errc::request_timed_out:
      return Errc::coordinator_not_available;
    case Errc::not_leader_or_follower:
      return Errc::not_coordinator;
    default:
      return e;
  }
}

Errc GroupCoordinator::store_group(Group& g, const TopicPartition& tp) {
  SimRuntime& rt = broker_.runtime();
  Writer w;
  w.str(g.protocol_type);
  w.i32(g.generation);
  w.str(g.protocol_name);
  w.str(g.leader);
  w.i32(static_cast<int32_t>(g.members.size()));
  for (const auto& [id, m] : g.members) {
    w.str(id);
    w.u8(m.instance_id ? 1 : 0);
    w.str(m.instance_id.value_or(""));
    w.str(m.client_id);
    w.i64(m.session_timeout.ns());
    w.i64(m.rebalance_timeout.ns());
    const ConsumerSubscription* sub = nullptr;
    for (const auto& p : m.protocols) {
      if (p.name == g.protocol_name) sub = &p.metadata;
    }
    w.i32(sub ? static_cast<int32_t>(sub->topics.size()) : 0);
    if (sub) {
      for (const auto& t : sub->topics) w.str(t);
    }
    w.i32(static_cast<int32_t>(m.assignment.size()));
    for (const auto& tp2 : m.assignment) {
      w.str(tp2.topic);
      w.i32(tp2.partition);
    }
  }
  Batch b;
  Record rec;
  rec.key = group_key(g.id);
  rec.value = w.take();
  rec.timestamp_ms = rt.now().ns() / 1'000'000;
  b.records.push_back(std::move(rec));
  ProducePartitionResult res = broker_.append_and_wait(tp, b, -1, kStoreTimeout);
  rt.trace("kafka/group_store", static_cast<uint64_t>(g.generation), static_cast<uint64_t>(res.error));
  return map_append_error(res.error);
}

Result<int64_t, Errc> GroupCoordinator::store_offsets(const Group& g, const TopicPartition& tp,
                                                      const std::vector<OffsetCommitPartition>& offsets,
                                                      int64_t producer_id, int16_t producer_epoch) {
  SS_ASSERT(!offsets.empty(), "storing no offsets");
  SimRuntime& rt = broker_.runtime();
  Batch b;
  if (producer_id >= 0) {
    // A TxnOffsetCommit: a transactional batch of its producer, so the
    // partition fences older epochs and the markers decide its fate.
    b.producer_id = producer_id;
    b.producer_epoch = producer_epoch;
    b.transactional = true;
  }
  for (const auto& o : offsets) {
    Writer w;
    w.i64(o.offset);
    w.i32(o.leader_epoch);
    w.str(o.metadata);
    Record rec;
    rec.key = offset_key(g.id, o.tp);
    rec.value = w.take();
    rec.timestamp_ms = rt.now().ns() / 1'000'000;
    b.records.push_back(std::move(rec));
  }
  ProducePartitionResult res = broker_.append_and_wait(tp, b, -1, kStoreTimeout);
  if (res.error != Errc::no_error) return unexpected(map_append_error(res.error));
  SS_ASSERT(res.base_offset >= 0, "a successful append has an offset");
  return res.base_offset;
}

// ------------------------------------------------------------- loading ---

void GroupCoordinator::apply_batch(const Batch& b, int32_t partition, std::map<std::string, GroupPtr>& groups) {
  auto group = [&](const std::string& id) -> Group& {
    auto& slot = groups[id];
    if (!slot) {
      slot = std::make_shared<Group>();
      slot->id = id;
      slot->offsets_partition = partition;
    }
    return *slot;
  };
  if (b.control != ControlType::none) {
    // A transaction marker: the producer's pending offset commits in this
    // partition become visible (COMMIT) or vanish (ABORT).
    for (auto& [id, g] : groups) {
      auto it = g->pending_txn.find(b.producer_id);
      if (it == g->pending_txn.end()) continue;
      if (b.control == ControlType::commit) {
        for (const auto& [tp, o] : it->second) {
          auto cur = g->offsets.find(tp);
          if (cur == g->offsets.end() || cur->second.log_offset < o.log_offset) g->offsets[tp] = o;
        }
      }
      g->pending_txn.erase(it);
    }
    return;
  }
  for (size_t i = 0; i < b.records.size(); ++i) {
    const Record& rec = b.records[i];
    if (!rec.key) continue;
    Reader k(*rec.key);
    const auto type = static_cast<RecordType>(k.u8());
    std::string id = k.str();
    if (!k.ok()) continue;
    if (type == RecordType::offset) {
      TopicPartition tp;
      tp.topic = k.str();
      tp.partition = k.i32();
      if (!k.done()) continue;
      Group& g = group(id);
      if (!rec.value) {
        g.offsets.erase(tp);
        continue;
      }
      Reader v(*rec.value);
      CommittedOffset o;
      o.offset = v.i64();
      o.leader_epoch = v.i32();
      o.metadata = v.str();
      o.log_offset = b.base_offset + static_cast<int64_t>(i);
      if (!v.done()) continue;
      if (b.transactional && b.producer_id >= 0) {
        g.pending_txn[b.producer_id][tp] = o;
      } else {
        g.offsets[tp] = o;
      }
    } else if (type == RecordType::group) {
      if (!k.done()) continue;
      Group& g = group(id);
      if (!rec.value) {
        g.members.clear();
        continue;
      }
      Reader v(*rec.value);
      Group d;
      d.protocol_type = v.str();
      d.generation = v.i32();
      d.protocol_name = v.str();
      d.leader = v.str();
      const size_t n = v.count(4);
      for (size_t j = 0; j < n && v.ok(); ++j) {
        Member m;
        m.id = v.str();
        const bool has_instance = v.u8() != 0;
        std::string inst = v.str();
        if (has_instance) m.instance_id = inst;
        m.client_id = v.str();
        m.session_timeout = Duration::nanos(v.i64());
        m.rebalance_timeout = Duration::nanos(v.i64());
        JoinGroupProtocol p;
        p.name = d.protocol_name;
        const size_t topics = v.count(4);
        for (size_t t = 0; t < topics && v.ok(); ++t) p.metadata.topics.push_back(v.str());
        m.protocols.push_back(std::move(p));
        const size_t parts = v.count(8);
        for (size_t t = 0; t < parts && v.ok(); ++t) {
          TopicPartition tp;
          tp.topic = v.str();
          tp.partition = v.i32();
          m.assignment.push_back(tp);
        }
        m.join_order = j;
        d.members[m.id] = std::move(m);
      }
      if (!v.done()) continue;
      // Group records are written in generation order, but a store of an
      // Empty group may land after a later one: the newest generation wins.
      if (d.generation < g.generation) continue;
      g.protocol_type = d.protocol_type;
      g.generation = d.generation;
      g.protocol_name = d.protocol_name;
      g.leader = d.leader;
      g.members = std::move(d.members);
      g.next_join_order = g.members.size();
    }
  }
}

void GroupCoordinator::unload(int32_t partition) {
  SimRuntime& rt = broker_.runtime();
  size_t n = 0;
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (it->second->offsets_partition != partition) {
      ++it;
      continue;
    }
    it->second->state = GroupState::dead;
    it->second->changed.notify_all();
    it = groups_.erase(it);
    ++n;
  }
  partitions_[partition].loaded_epoch = -1;
  rt.trace("kafka/group_unload", static_cast<uint64_t>(partition), n);
  if (n > 0) rt.probe("kafka.group_coordinator_moved");
}

void GroupCoordinator::load(TopicPartition tp, int32_t epoch) {
  SimRuntime& rt = broker_.runtime();
  auto abandoned = [&] {
    PartitionHost* h = broker_.host(tp);
    return h == nullptr || !h->replica.is_leader() || h->replica.leader_epoch() != epoch ||
           partitions_[tp.partition].loading_epoch != epoch;
  };
  if (abandoned()) return;
  unload(tp.partition);
  rt.trace("kafka/group_load_start", static_cast<uint64_t>(tp.partition), static_cast<uint64_t>(epoch));
  std::map<std::string, GroupPtr> loaded;
  int64_t from = 0;
  uint64_t batches = 0;
  // Reads to the log end as Kafka does; each chunk advances `from`, so the loop
  // ends once it reaches the end (appends meanwhile are markers only: handlers
  // answer coordinator_load_in_progress until the load is done).
  for (;;) {
    rt.sleep_for(kLoadChunkTime);
    if (abandoned()) {
      if (partitions_[tp.partition].loading_epoch == epoch) partitions_[tp.partition].loading_epoch = -1;
      rt.trace("kafka/group_load_abandoned", static_cast<uint64_t>(tp.partition), static_cast<uint64_t>(epoch));
      return;
    }
    PartitionHost* h = broker_.host(tp);
    if (from >= h->log.end_offset()) break;
    auto r = h->log.read(from, kLoadChunkBytes);
    SS_ASSERT(r.ok(), "the leader's own log is readable from an offset it has");
    SS_ASSERT(!r->empty(), "a read below the log end returns a batch");
    for (const Batch& b : *r) {
      if (b.next_offset() <= from) continue;
      apply_batch(b, tp.partition, loaded);
      from = b.next_offset();
      ++batches;
    }
  }
  const Instant now = rt.now();
  for (auto& [id, g] : loaded) {
    if (!g->members.empty() && g->generation > 0) {
      // Members keep their generation; they must heartbeat within their session.
      g->state = GroupState::stable;
      for (auto& [mid, m] : g->members) m.last_heartbeat = now;
    } else {
      g->members.clear();
      g->state = GroupState::empty;
    }
    auto& slot = groups_[id];
    if (slot) {
      slot->state = GroupState::dead;
      slot->changed.notify_all();
    }
    slot = g;
  }
  PartitionLoad& pl = partitions_[tp.partition];
  pl.loaded_epoch = epoch;
  pl.loading_epoch = -1;
  rt.trace("kafka/group_load_done", static_cast<uint64_t>(tp.partition), batches);
  rt.log().info("{}-{}: loaded {} groups from {} batches at epoch {}", tp.topic, tp.partition, loaded.size(), batches,
                epoch);
  wake();
}

void GroupCoordinator::check_partitions() {
  const MetadataImage* img = broker_.image();
  if (img == nullptr) return;
  auto t = img->topics.find(kOffsetsTopic);
  if (t == img->topics.end()) return;
  for (int32_t p = 0; p < t->second.partitions; ++p) {
    const TopicPartition tp{kOffsetsTopic, p};
    PartitionHost* h = broker_.host(tp);
    const bool leader = h != nullptr && h->replica.is_leader();
    if (leader) {
      const int32_t epoch = h->replica.leader_epoch();
      PartitionLoad& pl = partitions_[p];
      if (pl.loaded_epoch != epoch && pl.loading_epoch != epoch) {
        pl.loading_epoch = epoch;
        broker_.runtime().spawn("group-load-" + std::to_string(p), [this, tp, epoch] { load(tp, epoch); });
      }
    } else {
      auto it = partitions_.find(p);
      if (it != partitions_.end() && it->second.loaded_epoch >= 0) unload(p);
    }
  }
}

void GroupCoordinator::run() {
  SimRuntime& rt = broker_.runtime();
  for (;;) {
    check_partitions();
    Instant next = rt.now() + (partitions_.empty() ? kIdleTick : kBusyTick);
    // Copy: expiry never erases groups, but keep the iteration independent of it.
    std::vector<GroupPtr> groups;
    for (const auto& [id, g] : groups_) groups.push_back(g);
    for (const GroupPtr& g : groups) {
      expire(*g);
      if (g->state == GroupState::preparing_rebalance) next = std::min(next, g->join_deadline);
      if (g->state == GroupState::completing_rebalance) next = std::min(next, g->sync_deadline);
      for (const auto& [id, m] : g->members) {
        if (!m.awaiting_join && !m.awaiting_sync) next = std::min(next, m.last_heartbeat + m.session_timeout);
      }
      for (const auto& [id, until] : g->pending_members) next = std::min(next, until);
    }
    next = std::max(next, rt.now() + Duration::millis(1));
    wake_.wait_until(rt, next);
  }
}

void GroupCoordinator::on_txn_marker(const TopicPartition& offsets_partition, int64_t producer_id, bool commit) {
  if (offsets_partition.topic != kOffsetsTopic) return;
  auto pl = partitions_.find(offsets_partition.partition);
  // While loading (or not loaded) the load itself reads the marker from the log.
  if (pl == partitions_.end() || pl->second.loaded_epoch < 0 || pl->second.loading_epoch >= 0) return;
  size_t n = 0;
  for (auto& [id, g] : groups_) {
    if (g->offsets_partition != offsets_partition.partition) continue;
    auto it = g->pending_txn.find(producer_id);
    if (it == g->pending_txn.end()) continue;
    if (commit) {
      for (const auto& [tp, o] : it->second) {
        auto cur = g->offsets.find(tp);
        if (cur == g->offsets.end() || cur->second.log_offset < o.log_offset) g->offsets[tp] = o;
      }
    }
    n += it->second.size();
    g->pending_txn.erase(it);
  }
  broker_.runtime().trace(commit ? "kafka/group_txn_commit" : "kafka/group_txn_abort", static_cast<uint64_t>(producer_id),
                          n);
}

}  // namespace streamsim::sim::kafka
