#include <streamsim/faults/nemesis.h>

#include <streamsim/core/assert.h>

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
  const auto& pool = kind == proto::CRASH_WIPE     ? wipe_targets_
                     : kind == proto::ENGINE_CRASH ? engine_targets_
                                                   : targets_;
  for (NodeId n : pool) {
    if (sim_.node(n).up()) up.push_back(n);
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
    if (nodes.empty() && kind != proto::LATENCY_SPIKE && kind != proto::PACKET_LOSS) continue;
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
  switch (kind) {
    case proto::LATENCY_SPIKE: {
      Duration extra = Duration::millis(params && params->extra_latency_ms() ? static_cast<int64_t>(params->extra_latency_ms())
                                                                             : 20 + static_cast<int64_t>(rng_.uniform(200)));
      note("latency spike +" + format_duration(extra) + " for " + format_duration(d));
      net.set_latency_spike(extra);
      rt.sleep_for(d);
      net.set_latency_spike(Duration::zero());
      break;
    }
    case proto::PACKET_LOSS: {
      double p = params && params->probability() > 0 ? params->probability() : 0.05 + 0.25 * rng_.uniform01();
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
    default:
      SS_PANIC("unknown fault kind (validated by the loader)");
  }
}

void Nemesis::stop_and_heal() {
  stopped_ = true;
  if (node_ != nullptr && node_->up()) {
    // Ends every pending fault task (their heals are replaced by the full heal below).
    sim_.crash(node_->id());
  }
  sim_.net().heal_all();
  std::vector<NodeId> all = targets_;
  all.insert(all.end(), engine_targets_.begin(), engine_targets_.end());
  for (NodeId n : all) {
    if (!sim_.node(n).up()) {
      sim_.restart(n);
      log_.push_back(format_instant(sim_.now()) + " restart " + sim_.node(n).node_name() + " (heal)");
    }
  }
  log_.push_back(format_instant(sim_.now()) + " healed everything");
}

}  // namespace streamsim::faults
