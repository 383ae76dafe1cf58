#include <streamsim/faults/nemesis.h>

#include <streamsim/core/assert.h>
#include <streamsim/sim/kafka/cluster.h>

#include <spdlog/logger.h>

#include <algorithm>

namespace streamsim::faults {

using proto::FaultKind;
using sim::NodeId;

const char* to_string(FaultKind k) { return proto::FaultKind_Name(k).c_str(); }

Nemesis::Nemesis(sim::Simulation& sim, const proto::Faults& cfg, std::vector<NodeId> targets,
                 std::vector<NodeId> wipe_targets)
    : sim_(sim), cfg_(cfg), targets_(std::move(targets)), wipe_targets_(std::move(wipe_targets)),
      rng_(Rng::stream(sim.seed(), "faults/nemesis")) {
  SS_ASSERT(!targets_.empty() || (cfg.scripted_size() == 0 && cfg.random().kinds_size() == 0),
            "faults configured but the workload has no fault targets");
  for (int k : cfg_.random().kinds()) kinds_.push_back(static_cast<FaultKind>(k));
  if (cfg_.random().swarm() && kinds_.size() > 1) {
    // Swarm testing: a random non-empty subset of the configured kinds.
    std::vector<FaultKind> subset;
    while (subset.empty()) {
      for (FaultKind k : kinds_) {
        if (rng_.bernoulli(0.5)) subset.push_back(k);
      }
    }
    kinds_ = subset;
  }
}

Nemesis::~Nemesis() = default;

void Nemesis::set_engine_targets(std::vector<NodeId> engines) {
  SS_ASSERT(node_ == nullptr, "engine targets are set before the nemesis starts");
  engine_targets_ = std::move(engines);
}

void Nemesis::set_hooks(SystemHooks* hooks) {
  SS_ASSERT(node_ == nullptr, "hooks are set before the nemesis starts");
  hooks_ = hooks;
}

std::string Nemesis::describe() const {
  std::string s;
  if (!kinds_.empty()) {
    s += "random kinds=[";
    for (size_t i = 0; i < kinds_.size(); ++i) s += (i ? "," : "") + proto::FaultKind_Name(kinds_[i]);
    const auto& r = cfg_.random();
    s += "] mean_interval=" + std::to_string(r.mean_interval_ms()) + "ms duration=[" +
         std::to_string(r.min_duration_ms()) + "," + std::to_string(r.max_duration_ms()) +
         "]ms max_concurrent=" + std::to_string(std::max<uint32_t>(1, r.max_concurrent())) +
         (r.swarm() ? " swarm" : "");
  }
  if (cfg_.scripted_size() > 0) s += (s.empty() ? "" : " ") + std::to_string(cfg_.scripted_size()) + " scripted";
  return s.empty() ? "none" : s;
}

void Nemesis::note(const std::string& text) {
  log_.push_back(format_instant(sim_.now()) + " " + text);
  node_->log().info("{}", text);
}

void Nemesis::start() {
  SS_ASSERT(node_ == nullptr, "nemesis started twice");
  node_ = &sim_.add_node("nemesis", [this](sim::SimRuntime& rt) {
    for (int i = 0; i < cfg_.scripted_size(); ++i) {
      const proto::ScriptedFault* f = &cfg_.scripted(i);
      rt.spawn("scripted" + std::to_string(i), [this, &rt, f] { scripted_main(rt, *f); });
    }
    if (!kinds_.empty()) random_main(rt);
  });
}

std::vector<NodeId> Nemesis::pick_targets(FaultKind kind, Rng& rng) {
  std::vector<NodeId> up;
  if (picks_own_targets(kind)) return {};
  std::vector<NodeId> engines;
  const bool engine_kind = kind == proto::ZOMBIE_ENGINE || kind == proto::ISOLATE_ENGINE || kind == proto::ENGINE_SCALE;
  if (engine_kind) {
    if (hooks_ == nullptr) return {};
    for (NodeId n : engine_pool()) {
      const bool active = hooks_->engine_active(n);
      // A zombie or an isolated instance must be running one; scaling picks
      // among the idle spares first (scale out), else among the running ones.
      if (kind != proto::ENGINE_SCALE ? active : (active || scaled_.count(n) == 0)) engines.push_back(n);
    }
    if (kind == proto::ENGINE_SCALE) {
      std::vector<NodeId> idle_spares;
      for (NodeId n : hooks_->spare_engines()) {
        if (!hooks_->engine_active(n) && scaled_.count(n) == 0 && sim_.node(n).up()) idle_spares.push_back(n);
      }
      if (!idle_spares.empty()) {
        engines = idle_spares;
      } else {
        std::vector<NodeId> running;
        for (NodeId n : engine_targets_) {
          if (hooks_->engine_active(n) && scaled_.count(n) == 0) running.push_back(n);
        }
        engines = running;
      }
    }
  }
  const auto& pool = kind == proto::CRASH_WIPE     ? wipe_targets_
                     : kind == proto::ENGINE_CRASH ? engine_targets_
                     : engine_kind                 ? engines
                                                   : targets_;
  for (NodeId n : pool) {
    if (!sim_.node(n).up()) continue;
    // One pause and one stall per node at a time; a paused node is no zombie candidate twice.
    if ((kind == proto::PAUSE || kind == proto::ZOMBIE_ENGINE) && sim_.node(n).paused()) continue;
    if (kind == proto::FSYNC_STALL && stalled_.count(n)) continue;
    up.push_back(n);
  }
  const bool pair = kind == proto::PARTITION || kind == proto::ONE_WAY_PARTITION;
  if (up.size() < (pair ? 2u : 1u)) return {};
  size_t a = rng.uniform(up.size());
  if (!pair) return {up[a]};
  size_t b = rng.uniform(up.size() - 1);
  if (b >= a) ++b;
  return {up[a], up[b]};
}

void Nemesis::random_main(sim::SimRuntime& rt) {
  const auto& r = cfg_.random();
  const uint32_t max_concurrent = std::max<uint32_t>(1, r.max_concurrent());
  for (;;) {
    rt.sleep_for(Duration::nanos(static_cast<int64_t>(rng_.exponential(static_cast<double>(r.mean_interval_ms()) * 1e6))));
    if (stopped_ || active_ >= max_concurrent) continue;
    FaultKind kind = kinds_[rng_.uniform(kinds_.size())];
    std::vector<NodeId> nodes = pick_targets(kind, rng_);
    if (nodes.empty() && kind != proto::LATENCY_SPIKE && kind != proto::PACKET_LOSS && !picks_own_targets(kind)) continue;
    Duration d = Duration::millis(rng_.uniform_int(static_cast<int64_t>(r.min_duration_ms()),
                                                   static_cast<int64_t>(r.max_duration_ms())));
    ++active_;
    rt.spawn("fault", [this, &rt, kind, nodes, d] {
      struct Count {
        uint32_t& n;
        ~Count() { --n; }
      } count{active_};
      inject(rt, kind, nodes, d, nullptr);
    });
  }
}

void Nemesis::scripted_main(sim::SimRuntime& rt, const proto::ScriptedFault& f) {
  rt.sleep_until(Instant::epoch() + Duration::millis(static_cast<int64_t>(f.at_ms())));
  std::vector<NodeId> nodes;
  for (const std::string& name : f.nodes()) {
    sim::SimRuntime* n = sim_.find(name);
    SS_ASSERT(n != nullptr, "scripted fault names an unknown node (validated by the loader)");
    nodes.push_back(n->id());
  }
  if (nodes.empty()) nodes = pick_targets(f.kind(), rng_);
  inject(rt, f.kind(), nodes, Duration::millis(static_cast<int64_t>(f.duration_ms())), &f);
}

void Nemesis::inject(sim::SimRuntime& rt, FaultKind kind, std::vector<NodeId> nodes, Duration d,
                     const proto::ScriptedFault* params) {
  sim::Network& net = sim_.net();
  auto name = [&](size_t i) { return sim_.node(nodes.at(i)).node_name(); };
  ++started_;
  // Every fault is kept as an explicit scripted fault; the cases below add the
  // parameters they draw. Nothing suspends before they do, so the index holds.
  const size_t rec = schedule_.size();
  {
    proto::ScriptedFault& f = schedule_.emplace_back();
    f.set_at_ms(static_cast<uint64_t>(rt.now().ns() / 1'000'000));
    f.set_kind(kind);
    f.set_duration_ms(static_cast<uint64_t>(d.ns() / 1'000'000));
    for (NodeId n : nodes) f.add_nodes(sim_.node(n).node_name());
    if (params != nullptr) {
      f.set_probability(params->probability());
      f.set_extra_latency_ms(params->extra_latency_ms());
      f.set_factor(params->factor());
    }
  }
  switch (kind) {
    case proto::LATENCY_SPIKE: {
      Duration extra = Duration::millis(params && params->extra_latency_ms() ? static_cast<int64_t>(params->extra_latency_ms())
                                                                             : 20 + static_cast<int64_t>(rng_.uniform(200)));
      schedule_[rec].set_extra_latency_ms(static_cast<uint64_t>(extra.ns() / 1'000'000));
      note("latency spike +" + format_duration(extra) + " for " + format_duration(d));
      net.set_latency_spike(extra);
      rt.sleep_for(d);
      net.set_latency_spike(Duration::zero());
      break;
    }
    case proto::PACKET_LOSS: {
      double p = params && params->probability() > 0 ? params->probability() : 0.05 + 0.25 * rng_.uniform01();
      schedule_[rec].set_probability(p);
      note("packet loss p=" + std::to_string(p) + " for " + format_duration(d));
      net.set_loss(p);
      rt.sleep_for(d);
      net.set_loss(0);
      break;
    }
    case proto::PARTITION:
    case proto::ONE_WAY_PARTITION: {
      if (nodes.size() < 2) return;
      bool two = kind == proto::PARTITION;
      note(std::string(two ? "partition " : "one-way partition ") + name(0) + (two ? " <-> " : " -> ") + name(1) +
           " for " + format_duration(d));
      net.partition(nodes[0], nodes[1], two);
      rt.sleep_for(d);
      net.unpartition(nodes[0], nodes[1], two);
      break;
    }
    case proto::ISOLATE: {
      if (nodes.empty()) return;
      note("isolate " + name(0) + " for " + format_duration(d));
      net.isolate(nodes[0]);
      rt.sleep_for(d);
      net.unisolate(nodes[0]);
      break;
    }
    case proto::CLOG: {
      if (nodes.empty()) return;
      note("clog " + name(0) + " for " + format_duration(d));
      net.clog(nodes[0], rt.now() + d);
      rt.sleep_for(d);
      break;
    }
    case proto::SLOW_NODE: {
      if (nodes.empty()) return;
      int factor = params && params->factor() ? static_cast<int>(params->factor()) : 2 + static_cast<int>(rng_.uniform(9));
      schedule_[rec].set_factor(static_cast<uint32_t>(factor));
      note("slow " + name(0) + " x" + std::to_string(factor) + " for " + format_duration(d));
      net.set_slow(nodes[0], factor);
      rt.sleep_for(d);
      net.set_slow(nodes[0], 1);
      break;
    }
    case proto::CRASH:
    case proto::CRASH_WIPE:
    case proto::ENGINE_CRASH: {
      // An engine crash is an ordinary crash of an engine instance node: its
      // task unwinds wherever it is, possibly between a batch's produce and
      // its commit, and the restarted incarnation recovers from Kafka alone.
      if (nodes.empty() || !sim_.node(nodes[0]).up()) return;
      bool wipe = kind == proto::CRASH_WIPE;
      sim::CrashReport rep = sim_.crash(nodes[0], wipe ? sim::CrashMode::wipe_disk : sim::CrashMode::keep_disk);
      note(std::string(wipe ? "crash (disk wiped) " : kind == proto::ENGINE_CRASH ? "engine crash " : "crash ") + name(0) + ", " + std::to_string(rep.bytes_lost) +
           " unsynced bytes lost, " + std::to_string(rep.files_torn) + " files torn; restart in " + format_duration(d));
      rt.sleep_for(std::max(d, Duration::millis(1)));
      if (!sim_.node(nodes[0]).up()) {
        sim_.restart(nodes[0]);
        note("restart " + name(0));
      }
      break;
    }
    case proto::PAUSE: {
      if (nodes.empty() || !sim_.node(nodes[0]).up() || sim_.node(nodes[0]).paused()) return;
      inject_pause(rt, nodes[0], d, "pause");
      break;
    }
    case proto::FSYNC_STALL: {
      if (nodes.empty() || stalled_.count(nodes[0])) return;
      inject_fsync_stall(rt, nodes[0], d, params);
      break;
    }
    case proto::CONTROLLER_FAILOVER:
      inject_controller_failover(rt, d);
      break;
    case proto::LEADER_MOVE:
      inject_leader_move(rt);
      break;
    case proto::ISOLATE_LEADER:
      inject_isolate_leader(rt, d);
      break;
    case proto::ZOMBIE_ENGINE: {
      if (nodes.empty() || !sim_.node(nodes[0]).up() || sim_.node(nodes[0]).paused()) return;
      inject_zombie(rt, nodes[0], d);
      break;
    }
    case proto::ENGINE_SCALE: {
      if (nodes.empty() || scaled_.count(nodes[0])) return;
      inject_scale(rt, nodes[0], d);
      break;
    }
    case proto::ISOLATE_ENGINE: {
      if (nodes.empty()) return;
      inject_isolate_engine(rt, nodes[0], d);
      break;
    }
    case proto::PARTITION_HALVES:
      inject_halves(rt, nodes, d);
      break;
    default:
      SS_PANIC("unknown fault kind (validated by the loader)");
  }
}

// --- The catalog's second part: kinds that stop processes, stall disks, ask
// the cluster where to strike, or change the engines' group. ---

namespace {

// Bounds the nemesis's own requests to the controller quorum (describe, elect).
constexpr Duration kAdminTimeout = Duration::seconds(2);
// ZOMBIE_ENGINE pauses at least this much longer than the session timeout:
// the coordinator must notice the expiry, rebalance and hand the partitions to
// another instance, which fences the zombie's transactional ids.
constexpr Duration kZombieMargin = Duration::seconds(3);

std::string tp_name(const sim::kafka::TopicPartition& tp) { return tp.topic + "[" + std::to_string(tp.partition) + "]"; }

}  // namespace

bool Nemesis::picks_own_targets(FaultKind kind) {
  return kind == proto::CONTROLLER_FAILOVER || kind == proto::LEADER_MOVE || kind == proto::ISOLATE_LEADER ||
         kind == proto::PARTITION_HALVES;
}

std::vector<NodeId> Nemesis::engine_pool() const {
  std::vector<NodeId> out = engine_targets_;
  if (hooks_ != nullptr) {
    for (NodeId n : hooks_->spare_engines()) {
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    }
  }
  return out;
}

std::string Nemesis::node_list(const std::vector<NodeId>& nodes) {
  std::string s;
  for (NodeId n : nodes) s += (s.empty() ? "" : ",") + sim_.node(n).node_name();
  return "{" + s + "}";
}

void Nemesis::inject_pause(sim::SimRuntime& rt, NodeId n, Duration d, const char* what) {
  SS_ASSERT(sim_.node(n).up() && !sim_.node(n).paused(), "pause targets a running process");
  SS_ASSERT(n != node_->id(), "the nemesis never pauses itself");
  const uint64_t incarnation = sim_.node(n).incarnation();
  sim_.pause(n);
  paused_[n] = incarnation;
  note(std::string(what) + " " + sim_.node(n).node_name() + " for " + format_duration(d));
  rt.sleep_for(std::max(d, Duration::millis(1)));
  paused_.erase(n);
  // A crash while paused ended the pause; the restarted process is not ours to resume.
  if (sim_.node(n).paused() && sim_.node(n).incarnation() == incarnation) {
    sim_.resume(n);
    note("resume " + sim_.node(n).node_name());
  } else {
    note("resume " + sim_.node(n).node_name() + " skipped: it crashed while paused");
  }
}

void Nemesis::inject_fsync_stall(sim::SimRuntime& rt, NodeId n, Duration d, const proto::ScriptedFault* params) {
  Duration extra = Duration::millis(params && params->extra_latency_ms() ? static_cast<int64_t>(params->extra_latency_ms())
                                                                         : 50 + static_cast<int64_t>(rng_.uniform(451)));
  SS_ASSERT(extra > Duration::zero(), "an fsync stall adds latency");
  SS_ASSERT(stalled_.count(n) == 0, "one stall per disk at a time");
  stalled_.insert(n);
  sim_.set_fsync_stall(n, extra);
  note("fsync stall " + sim_.node(n).node_name() + " +" + format_duration(extra) + " for " + format_duration(d));
  rt.sleep_for(d);
  sim_.set_fsync_stall(n, Duration::zero());
  stalled_.erase(n);
  note("fsync stall of " + sim_.node(n).node_name() + " ends");
}

void Nemesis::inject_controller_failover(sim::SimRuntime& rt, Duration d) {
  const std::vector<NodeId> controllers = hooks_ ? hooks_->kafka_controllers() : std::vector<NodeId>{};
  if (controllers.empty()) return note("controller failover skipped: no Kafka cluster");
  // Asked like an operator asks (kafka-metadata-quorum.sh): over the network,
  // so a partition around the quorum can make the question go unanswered.
  auto view = sim::kafka::describe_controller(rt, controllers, kAdminTimeout);
  if (!view.ok()) return note("controller failover skipped: no active controller answered");
  SS_ASSERT(view->active >= 0 && static_cast<size_t>(view->active) < controllers.size(), "active controller index in range");
  const NodeId n = controllers[static_cast<size_t>(view->active)];
  if (!sim_.node(n).up()) return note("controller failover skipped: the active controller is down");
  sim::CrashReport rep = sim_.crash(n, sim::CrashMode::keep_disk);
  note("controller failover: crash active " + sim_.node(n).node_name() + " (term " +
       std::to_string(view->image->controller_epoch) + "), " + std::to_string(rep.bytes_lost) +
       " unsynced bytes lost; restart in " + format_duration(d));
  rt.sleep_for(std::max(d, Duration::millis(1)));
  if (!sim_.node(n).up()) {
    sim_.restart(n);
    note("restart " + sim_.node(n).node_name());
  }
}

void Nemesis::inject_leader_move(sim::SimRuntime& rt) {
  const std::vector<NodeId> controllers = hooks_ ? hooks_->kafka_controllers() : std::vector<NodeId>{};
  if (controllers.empty()) return note("leader move skipped: no Kafka cluster");
  auto view = sim::kafka::describe_controller(rt, controllers, kAdminTimeout);
  if (!view.ok()) return note("leader move skipped: no active controller answered");
  const sim::kafka::MetadataImage& m = *view->image;
  const std::vector<std::string> topics = hooks_->leader_topics();
  // Candidates: partitions of the data topics and of the internal topics (a
  // moved internal partition moves a group or transaction coordinator) that
  // have a leader and another live in-sync replica to move to.
  std::vector<std::pair<sim::kafka::TopicPartition, sim::kafka::BrokerId>> moves;
  for (const auto& [tp, p] : m.partitions) {
    const bool data = std::find(topics.begin(), topics.end(), tp.topic) != topics.end();
    if (!data && tp.topic != sim::kafka::kOffsetsTopic && tp.topic != sim::kafka::kTransactionTopic) continue;
    if (p.leader < 0) continue;
    for (sim::kafka::BrokerId b : p.isr) {
      const bool live = std::find(m.live_brokers.begin(), m.live_brokers.end(), b) != m.live_brokers.end();
      if (b != p.leader && live) moves.push_back({tp, b});
    }
  }
  if (moves.empty()) return note("leader move skipped: no partition has another live in-sync replica");
  const auto [tp, to] = moves[rng_.uniform(moves.size())];
  const sim::kafka::PartitionState& before = m.partitions.at(tp);
  auto r = sim::kafka::elect_leader(rt, controllers, tp, to, kAdminTimeout);
  if (!r.ok()) {
    return note("leader move " + tp_name(tp) + " broker-" + std::to_string(before.leader) + " -> broker-" +
                std::to_string(to) + " refused: " + streamsim::kafka::to_string(r.error()));
  }
  note("leader move " + tp_name(tp) + " broker-" + std::to_string(before.leader) + " -> broker-" +
       std::to_string(r->leader) + ", leader epoch " + std::to_string(before.leader_epoch) + " -> " +
       std::to_string(r->leader_epoch));
}

void Nemesis::inject_isolate_leader(sim::SimRuntime& rt, Duration d) {
  const std::vector<NodeId> controllers = hooks_ ? hooks_->kafka_controllers() : std::vector<NodeId>{};
  const std::vector<NodeId> brokers = hooks_ ? hooks_->kafka_brokers() : std::vector<NodeId>{};
  if (controllers.empty() || brokers.empty()) return note("isolate leader skipped: no Kafka cluster");
  auto view = sim::kafka::describe_controller(rt, controllers, kAdminTimeout);
  if (!view.ok()) return note("isolate leader skipped: no active controller answered");
  const std::vector<std::string> topics = hooks_->leader_topics();
  std::vector<const sim::kafka::PartitionState*> led;
  for (const auto& [tp, p] : view->image->partitions) {
    if (p.leader >= 0 && static_cast<size_t>(p.leader) < brokers.size() &&
        (topics.empty() || std::find(topics.begin(), topics.end(), tp.topic) != topics.end()))
      led.push_back(&p);
  }
  if (led.empty()) return note("isolate leader skipped: no partition has a leader");
  const sim::kafka::PartitionState& p = *led[rng_.uniform(led.size())];
  const NodeId n = brokers[static_cast<size_t>(p.leader)];
  sim::Network& net = sim_.net();
  net.isolate(n);
  note("isolate leader " + sim_.node(n).node_name() + " of " + tp_name(p.tp) + " (leader epoch " +
       std::to_string(p.leader_epoch) + ") for " + format_duration(d));
  rt.sleep_for(d);
  net.unisolate(n);
  note("isolation of " + sim_.node(n).node_name() + " ends");
}

void Nemesis::inject_zombie(sim::SimRuntime& rt, NodeId n, Duration d) {
  SS_ASSERT(hooks_ != nullptr, "engine kinds are picked only with hooks");
  const Duration session = hooks_->engine_session_timeout();
  // Past its session, or the group would not notice and no zombie would exist.
  const Duration stop = std::max(d, session + kZombieMargin);
  inject_pause(rt, n, stop, "zombie engine: pause");
}

void Nemesis::inject_scale(sim::SimRuntime& rt, NodeId n, Duration d) {
  SS_ASSERT(hooks_ != nullptr, "engine kinds are picked only with hooks");
  SS_ASSERT(scaled_.count(n) == 0, "one scaling per engine node at a time");
  const std::string name = sim_.node(n).node_name();
  if (!hooks_->engine_active(n)) {
    if (!hooks_->scale_out(n)) return note("scale out " + name + " skipped: nothing to start");
    scaled_[n] = true;
    note("scale out " + name + " (joins the group) for " + format_duration(d));
    rt.sleep_for(d);
    scaled_.erase(n);
    note(std::string("scale in ") + name + (hooks_->scale_in(n) ? " (leaves the group)" : " (already stopped)"));
    return;
  }
  if (!hooks_->scale_in(n)) return note("scale in " + name + " skipped: no instance runs");
  scaled_[n] = false;
  note("scale in " + name + " (leaves the group) for " + format_duration(d));
  rt.sleep_for(d);
  scaled_.erase(n);
  note(std::string("scale out ") + name + (hooks_->scale_out(n) ? " (rejoins the group)" : " (already running)"));
}

void Nemesis::inject_isolate_engine(sim::SimRuntime& rt, NodeId n, Duration d) {
  SS_ASSERT(hooks_ != nullptr, "engine kinds are picked only with hooks");
  const std::vector<NodeId> controllers = hooks_->kafka_controllers();
  const std::vector<NodeId> brokers = hooks_->kafka_brokers();
  if (controllers.empty() || brokers.empty()) return note("isolate engine skipped: no Kafka cluster");
  // The coordinators are the leaders of the key's partition of each internal
  // topic (what FindCoordinator answers). Before the internal topics exist, or
  // when the cluster does not answer, every broker stands in for them.
  std::set<NodeId> cut;
  std::string why = "coordinators";
  auto view = sim::kafka::describe_controller(rt, controllers, kAdminTimeout);
  auto coordinator = [&](const char* topic, const std::string& key) {
    const auto& m = *view->image;
    auto t = m.topics.find(topic);
    if (t == m.topics.end()) return false;
    auto p = m.partitions.find(sim::kafka::TopicPartition{topic, sim::kafka::coordinator_partition(key, t->second.partitions)});
    if (p == m.partitions.end() || p->second.leader < 0 || static_cast<size_t>(p->second.leader) >= brokers.size())
      return false;
    cut.insert(brokers[static_cast<size_t>(p->second.leader)]);
    return true;
  };
  bool all = !view.ok();
  if (!all) {
    const std::string group = hooks_->engine_group_id();
    if (!group.empty()) all |= !coordinator(sim::kafka::kOffsetsTopic, group);
    for (const std::string& id : hooks_->engine_transactional_ids(n)) all |= !coordinator(sim::kafka::kTransactionTopic, id);
  }
  if (all || cut.empty()) {
    cut.insert(brokers.begin(), brokers.end());
    why = "brokers (coordinators unknown)";
  }
  const std::vector<NodeId> peers(cut.begin(), cut.end());
  sim::Network& net = sim_.net();
  for (NodeId b : peers) net.partition(n, b, true);
  note("isolate engine " + sim_.node(n).node_name() + " from its " + why + " " + node_list(peers) + " for " +
       format_duration(d));
  rt.sleep_for(d);
  for (NodeId b : peers) net.unpartition(n, b, true);
  note("isolation of " + sim_.node(n).node_name() + " from " + node_list(peers) + " ends");
}

void Nemesis::inject_halves(sim::SimRuntime& rt, std::vector<NodeId> side, Duration d) {
  // Cluster and engine nodes; the workload's own clients (producers, readers)
  // keep reaching both sides, as clients outside a split data centre would.
  std::vector<NodeId> pool = targets_;
  for (NodeId n : engine_pool()) pool.push_back(n);
  std::vector<NodeId> a, b;
  if (!side.empty()) {
    a = side;
    for (NodeId n : pool)
      if (std::find(a.begin(), a.end(), n) == a.end()) b.push_back(n);
  } else {
    // Fisher-Yates on the nemesis's stream, then cut in the middle.
    for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[rng_.uniform(i)]);
    const size_t half = pool.size() / 2;
    a.assign(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(half));
    b.assign(pool.begin() + static_cast<std::ptrdiff_t>(half), pool.end());
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
  }
  if (a.empty() || b.empty()) return note("partition halves skipped: fewer than two nodes");
  sim::Network& net = sim_.net();
  for (NodeId x : a)
    for (NodeId y : b) net.partition(x, y, true);
  note("partition halves " + node_list(a) + " <-> " + node_list(b) + " for " + format_duration(d));
  rt.sleep_for(d);
  for (NodeId x : a)
    for (NodeId y : b) net.unpartition(x, y, true);
  note("partition halves ends");
}

void Nemesis::stop_and_heal() {
  stopped_ = true;
  if (node_ != nullptr && node_->up()) {
    // Ends every pending fault task (their heals are replaced by the full heal below).
    sim_.crash(node_->id());
  }
  sim_.net().heal_all();
  // Undo what the network heal does not: stopped processes continue, disks
  // stop stalling, and engines scaled by a pending ENGINE_SCALE go back.
  for (const auto& [n, incarnation] : paused_) {
    if (sim_.node(n).paused() && sim_.node(n).incarnation() == incarnation) {
      sim_.resume(n);
      log_.push_back(format_instant(sim_.now()) + " resume " + sim_.node(n).node_name() + " (heal)");
    }
  }
  paused_.clear();
  for (NodeId n : stalled_) {
    sim_.set_fsync_stall(n, Duration::zero());
    log_.push_back(format_instant(sim_.now()) + " fsync stall of " + sim_.node(n).node_name() + " ends (heal)");
  }
  stalled_.clear();
  for (const auto& [n, out] : scaled_) {
    SS_ASSERT(hooks_ != nullptr, "only hooks scale engines");
    const bool done = out ? hooks_->scale_in(n) : hooks_->scale_out(n);
    log_.push_back(format_instant(sim_.now()) + (out ? " scale in " : " scale out ") + sim_.node(n).node_name() +
                   (done ? "" : " (nothing to do)") + " (heal)");
  }
  scaled_.clear();
  std::vector<NodeId> all = targets_;
  const std::vector<NodeId> engines = engine_pool();
  all.insert(all.end(), engines.begin(), engines.end());
  for (NodeId n : all) {
    if (!sim_.node(n).up()) {
      sim_.restart(n);
      log_.push_back(format_instant(sim_.now()) + " restart " + sim_.node(n).node_name() + " (heal)");
    }
  }
  log_.push_back(format_instant(sim_.now()) + " healed everything");
}

}  // namespace streamsim::faults
