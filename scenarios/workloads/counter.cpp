// Primary-backup counter: the kernel's self-test workload (see counter.h).
#include <streamsim/scenarios/counter.h>

#include <streamsim/core/assert.h>
#include <streamsim/core/checksum.h>
#include <streamsim/core/sync.h>
#include <streamsim/sim/simulation.h>

#include <spdlog/logger.h>

#include <cstring>

namespace streamsim::scenarios {

using sim::NodeId;
using sim::Payload;
using sim::SimRuntime;

namespace {

constexpr uint32_t kClientPort = 1;
constexpr uint32_t kReplicaPort = 2;
constexpr const char* kLogFile = "counter.log";
constexpr size_t kMaxHandlers = 256;  // bound on concurrent request handlers per replica

struct IncrementReq final : Payload {
  CounterEntry e;
  const char* type_name() const override { return "Increment"; }
};
struct IncrementResp final : Payload {
  bool ok = false;
  uint64_t value = 0;
  const char* type_name() const override { return "IncrementResp"; }
};
struct ReplicateReq final : Payload {
  uint64_t from = 0;
  std::vector<CounterEntry> entries;
  const char* type_name() const override { return "Replicate"; }
};
struct LenResp final : Payload {
  uint64_t len = 0;
  const char* type_name() const override { return "LenResp"; }
};
struct FetchLogReq final : Payload {
  const char* type_name() const override { return "FetchLog"; }
};
struct LogResp final : Payload {
  std::vector<CounterEntry> entries;
  const char* type_name() const override { return "LogResp"; }
};

std::string encode(const CounterEntry& e) {
  std::string p(12, '\0');
  std::memcpy(p.data(), &e.client, 4);
  std::memcpy(p.data() + 4, &e.req, 8);
  return p;
}

bool decode(std::string_view p, CounterEntry* e) {
  if (p.size() != 12) return false;
  std::memcpy(&e->client, p.data(), 4);
  std::memcpy(&e->req, p.data() + 4, 8);
  return true;
}

// One replica process. Lives on the stack of the node's main task, so a crash
// destroys it; everything durable is in counter.log.
class Replica {
 public:
  Replica(SimRuntime& rt, uint32_t index, const proto::CounterWorkload& cfg, std::vector<NodeId> backups)
      : rt_(rt), index_(index), cfg_(cfg), backups_(std::move(backups)), known_len_(backups_.size(), 0) {}

  void main() {
    recover();
    sim::Inbox& client_in = rt_.net().listen(rt_.id(), kClientPort);
    sim::Inbox& replica_in = rt_.net().listen(rt_.id(), kReplicaPort);
    rt_.spawn("replica-rpc", [this, &replica_in] { serve(replica_in); });
    if (primary() && cfg_.bug_ack_before_replicate()) rt_.spawn("replicator", [this] { background_replicator(); });
    serve(client_in);
  }

 private:
  bool primary() const { return index_ == 0; }

  void recover() {
    Storage& disk = rt_.storage();
    std::string data;
    if (auto r = disk.read_all(kLogFile); r.ok()) {
      data = std::move(*r);
    } else {
      // Create the log and make its name durable before anything is acknowledged:
      // an fsynced file whose directory entry was never synced vanishes in a crash
      // (the first bug this simulator found in this workload).
      auto w = disk.write(kLogFile, 0, "");
      SS_ASSERT(w.ok(), "creating the counter log failed");
      auto d = disk.sync_dir();
      SS_ASSERT(d.ok(), "sync_dir failed");
    }
    FramedScan scan = scan_records(data);
    for (const std::string& rec : scan.records) {
      CounterEntry e;
      SS_ASSERT(decode(rec, &e), "a checksummed log record has the wrong size");
      add(e);
    }
    if (scan.corrupt_tail) {
      // Torn or corrupted unsynced tail: cut it off so later appends follow valid data.
      rt_.trace("counter/torn_tail_cut", scan.corrupt_offset, data.size() - scan.valid_bytes);
      auto t = disk.truncate(kLogFile, scan.valid_bytes);
      SS_ASSERT(t.ok(), "truncate of the counter log failed");
      auto f = disk.fsync(kLogFile);
      SS_ASSERT(f.ok(), "fsync of the counter log failed");
    }
    rt_.log().info("recovered {} entries ({} bytes, torn tail: {})", log_.size(), scan.valid_bytes, scan.corrupt_tail);
    if (!primary()) return;
    // Adopt a longer log from a backup: possible only if this disk lost data.
    for (size_t b = 0; b < backups_.size(); ++b) {
      for (int attempt = 0; attempt < 3; ++attempt) {
        auto r = rt_.net().call(rt_, rt_.id(), backups_[b], kReplicaPort, std::make_shared<FetchLogReq>(),
                                Duration::millis(100));
        if (!r.ok()) continue;
        const auto& other = sim::payload_as<LogResp>(*r).entries;
        if (other.size() > log_.size() && std::equal(log_.begin(), log_.end(), other.begin())) {
          std::vector<CounterEntry> extra(other.begin() + static_cast<long>(log_.size()), other.end());
          persist(extra, true);
          for (auto& e : extra) add(e);
          rt_.trace("counter/adopted_backup_log", b, extra.size());
        }
        break;
      }
    }
  }

  void add(const CounterEntry& e) {
    log_.push_back(e);
    pos_[{e.client, e.req}] = log_.size();
  }

  void persist(const std::vector<CounterEntry>& entries, bool sync) {
    std::string buf;
    for (auto& e : entries) frame_record(buf, encode(e));
    auto a = rt_.storage().append(kLogFile, buf);
    SS_ASSERT(a.ok(), "append to the counter log failed");
    if (sync && !cfg_.bug_skip_fsync()) {
      auto f = rt_.storage().fsync(kLogFile);
      SS_ASSERT(f.ok(), "fsync of the counter log failed");
    }
  }

  void serve(sim::Inbox& in) {
    for (;;) {
      auto r = in.recv(rt_);
      if (!r.ok()) return;  // closed: the node is going down
      sim::Request req = std::move(*r);
      if (handlers_ >= kMaxHandlers) continue;  // shed load; the caller retries
      ++handlers_;
      rt_.spawn("handler", [this, req = std::move(req)] {
        struct Count {
          size_t& n;
          ~Count() { --n; }
        } count{handlers_};
        handle(req);
      });
    }
  }

  void handle(const sim::Request& req) {
    if (dynamic_cast<const FetchLogReq*>(req.body.get())) {
      auto resp = std::make_shared<LogResp>();
      resp->entries = log_;
      rt_.net().reply(req, resp);
    } else if (auto* inc = dynamic_cast<const IncrementReq*>(req.body.get())) {
      if (primary()) increment(req, inc->e);
    } else if (auto* rep = dynamic_cast<const ReplicateReq*>(req.body.get())) {
      if (!primary()) replicate_in(req, *rep);
    }
  }

  void reply_value(const sim::Request& req, uint64_t value) {
    auto resp = std::make_shared<IncrementResp>();
    resp->ok = true;
    resp->value = value;
    rt_.net().reply(req, resp);
  }

  void increment(const sim::Request& req, const CounterEntry& e) {
    if (auto it = pos_.find({e.client, e.req}); it != pos_.end()) return reply_value(req, it->second);
    if (cfg_.bug_ack_before_replicate()) {
      // BUG (canary): acknowledged while only in memory and an unsynced append.
      add(e);
      persist({e}, false);
      wake_replicator_.notify_one();
      return reply_value(req, log_.size());
    }
    UniqueLock lk(rt_, mu_);
    if (auto it = pos_.find({e.client, e.req}); it != pos_.end()) return reply_value(req, it->second);
    persist({e}, true);
    add(e);
    uint64_t value = log_.size();
    replicate_all();
    reply_value(req, value);
  }

  // Replicates the whole log to every backup; retries until each has it.
  // Precondition: mu_ held (one replication round at a time keeps backups ordered).
  void replicate_all() {
    for (size_t b = 0; b < backups_.size(); ++b) {
      while (known_len_[b] < log_.size()) {
        auto msg = std::make_shared<ReplicateReq>();
        msg->from = known_len_[b];
        msg->entries.assign(log_.begin() + static_cast<long>(known_len_[b]), log_.end());
        auto r = rt_.net().call(rt_, rt_.id(), backups_[b], kReplicaPort, msg, Duration::millis(100));
        if (r.ok()) {
          known_len_[b] = std::min<uint64_t>(sim::payload_as<LenResp>(*r).len, log_.size());
          if (known_len_[b] < log_.size() && sim::payload_as<LenResp>(*r).len < msg->from) {
            rt_.trace("counter/backup_behind", b, known_len_[b]);
          }
        } else {
          rt_.sleep_for(Duration::millis(10 + rt_.random().uniform(20)));
        }
      }
    }
  }

  void background_replicator() {
    for (;;) {
      while (replicated_ >= log_.size()) wake_replicator_.wait(rt_);
      UniqueLock lk(rt_, mu_);
      size_t target = log_.size();
      if (!cfg_.bug_skip_fsync()) {
        auto f = rt_.storage().fsync(kLogFile);
        SS_ASSERT(f.ok(), "fsync of the counter log failed");
      }
      replicate_all();
      replicated_ = target;
    }
  }

  void replicate_in(const sim::Request& req, const ReplicateReq& rep) {
    UniqueLock lk(rt_, mu_);
    if (rep.from <= log_.size()) {
      std::vector<CounterEntry> fresh;
      for (size_t i = 0; i < rep.entries.size(); ++i) {
        uint64_t idx = rep.from + i;
        if (idx < log_.size()) {
          if (!(log_[idx] == rep.entries[i])) rt_.trace("counter/divergent_entry", idx, 0);
          continue;
        }
        fresh.push_back(rep.entries[i]);
      }
      if (!fresh.empty()) {
        persist(fresh, true);
        for (auto& e : fresh) add(e);
      }
    }
    auto resp = std::make_shared<LenResp>();
    resp->len = log_.size();
    rt_.net().reply(req, resp);
  }

  SimRuntime& rt_;
  uint32_t index_;
  const proto::CounterWorkload& cfg_;
  std::vector<NodeId> backups_;
  std::vector<uint64_t> known_len_;
  std::vector<CounterEntry> log_;
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> pos_;
  Mutex mu_;
  CondVar wake_replicator_;
  size_t replicated_ = 0;
  size_t handlers_ = 0;
};

}  // namespace

CounterWorkload::CounterWorkload(const proto::CounterWorkload& cfg)
    : cfg_(cfg), n_replicas_(cfg.replicas() ? cfg.replicas() : 3), n_clients_(cfg.clients() ? cfg.clients() : 3) {
  SS_ASSERT(n_replicas_ >= 1 && n_replicas_ <= 9, "replicas out of range (validated by the loader)");
  SS_ASSERT(n_clients_ >= 1 && n_clients_ <= 64, "clients out of range (validated by the loader)");
}

CounterWorkload::~CounterWorkload() = default;

void CounterWorkload::setup(sim::Simulation& sim) {
  sim_ = &sim;
  // Node ids are assigned in add order; replicas come first so backups are known.
  NodeId first = static_cast<NodeId>(sim.node_count());
  std::vector<NodeId> backups;
  for (uint32_t i = 1; i < n_replicas_; ++i) backups.push_back(first + i);
  for (uint32_t i = 0; i < n_replicas_; ++i) {
    std::vector<NodeId> mine = i == 0 ? backups : std::vector<NodeId>{};
    auto& rt = sim.add_node("r" + std::to_string(i), [this, i, mine](SimRuntime& rt) {
      Replica r(rt, i, cfg_, mine);
      r.main();
    });
    replicas_.push_back(rt.id());
    SS_ASSERT(rt.id() == first + i, "replica node ids are not contiguous");
  }
  for (uint32_t c = 0; c < n_clients_; ++c) {
    sim.add_node("client" + std::to_string(c), [this, c](SimRuntime& rt) { client_main(rt, c); });
  }
  sim.add_node("checker", [this](SimRuntime& rt) { reader_main(rt); });
}

void CounterWorkload::client_main(SimRuntime& rt, uint32_t client) {
  const Duration interval = Duration::millis(static_cast<int64_t>(cfg_.request_interval_ms() ? cfg_.request_interval_ms() : 5));
  const Duration timeout = Duration::millis(static_cast<int64_t>(cfg_.request_timeout_ms() ? cfg_.request_timeout_ms() : 200));
  uint64_t req = 0;
  while (!liveness_) {
    size_t op_index = history_.ops.size();
    history_.ops.push_back(CounterOp{client, ++req, rt.now(), false, Instant(), 0, 0});
    auto body = std::make_shared<IncrementReq>();
    body->e = CounterEntry{client, req};
    // Retry the same id until acknowledged: the primary deduplicates.
    for (;;) {
      ++history_.ops[op_index].attempts;
      auto r = rt.net().call(rt, rt.id(), replicas_[0], kClientPort, body, timeout);
      if (r.ok() && sim::payload_as<IncrementResp>(*r).ok) {
        CounterOp& op = history_.ops[op_index];
        op.acked = true;
        op.acked_at = rt.now();
        op.value = sim::payload_as<IncrementResp>(*r).value;
        break;
      }
      rt.sleep_for(Duration::millis(5 + static_cast<int64_t>(rt.random().uniform(20))));
    }
    rt.sleep_for(interval + Duration::micros(static_cast<int64_t>(rt.random().uniform(1000))));
  }
  ++clients_done_;
  done_.notify_all();
}

void CounterWorkload::reader_main(SimRuntime& rt) {
  // Waits for the liveness phase and for every client to finish, then reads the
  // final log of every replica.
  while (!(liveness_ && clients_done_ == n_clients_)) done_.wait(rt);
  history_.final_logs.assign(n_replicas_, std::nullopt);
  for (uint32_t i = 0; i < n_replicas_; ++i) {
    for (int attempt = 0; attempt < 200 && !history_.final_logs[i]; ++attempt) {
      auto r = rt.net().call(rt, rt.id(), replicas_[i], kReplicaPort, std::make_shared<FetchLogReq>(),
                             Duration::millis(100));
      if (r.ok()) {
        history_.final_logs[i] = sim::payload_as<LogResp>(*r).entries;
      } else {
        rt.sleep_for(Duration::millis(20));
      }
    }
  }
  history_.final_read_done = true;
  sim_->kernel().request_stop();
}

void CounterWorkload::begin_liveness() {
  liveness_ = true;
  done_.notify_all();
}

bool CounterWorkload::settled() const { return history_.final_read_done; }

std::vector<std::pair<std::string, double>> CounterWorkload::metrics() const {
  double acked = 0, attempts = 0;
  for (auto& op : history_.ops) {
    acked += op.acked;
    attempts += op.attempts;
  }
  return {{"increments_invoked", static_cast<double>(history_.ops.size())},
          {"increments_acked", acked},
          {"attempts", attempts}};
}

}  // namespace streamsim::scenarios
