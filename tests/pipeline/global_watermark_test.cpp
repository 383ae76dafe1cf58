// The global watermark across engine instances, end to end on a simulated
// 3-broker cluster (docs/semantics.md, "Watermarks", across instances): two
// EngineInstances share a 4-partition input whose partitions advance in event
// time at different rates. Every watermark an instance reports must be at most
// the minimum over ALL partitions (what had been sent to each by then) minus
// the delay, not only over the partitions it owns; the exactly-once output
// must still equal the batch reference; and an instance restarted after a
// crash must not start below the watermark committed before the crash.
#include <catch2/catch.hpp>

#include "pipeline_test_util.h"

#include "../support/test_support.h"

#include <streamsim/engine/instance.h>
#include <streamsim/engine/observer.h>
#include <streamsim/engine/registry.h>
#include <streamsim/sim/kafka/client.h>
#include <streamsim/sim/kafka/cluster.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace streamsim;
using namespace streamsim::sim;
namespace k = streamsim::kafka;
namespace sk = streamsim::sim::kafka;
namespace e = streamsim::engine;
using streamsim::testing::pipeline::cluster_config;
using streamsim::testing::pipeline::header_of;
using streamsim::testing::pipeline::read_committed;

namespace {

constexpr int32_t kPartitions = 4;
constexpr int64_t kBaseMs = 1'000'000;
constexpr int64_t kTickMs = 25;
constexpr int64_t kWindowMs = 5'000;
constexpr int64_t kDelayMs = 2'000;
// Event time advances per partition at these fractions of processing time:
// partition 3 trails far behind partition 0, so a watermark over some
// partitions only would run far ahead of the global one.
constexpr double kSpeed[kPartitions] = {1.0, 0.9, 0.5, 0.25};
const std::string kApp = "gw";
const std::string kSource = "clicks";
const std::string kSink = "click-counts";
const std::string kLate = "click-counts-late";
const std::string kDlq = "click-counts-dlq";

struct Event {
  std::string key;
  int64_t ts = 0;
  bool sentinel = false;
};

struct Advance {
  std::string engine;  // "engine-1#2": node and incarnation
  Instant at;
  int64_t from = 0, to = 0;
};
struct Commit {
  std::string engine;
  Instant at;
  int64_t watermark = 0;
};

struct Outcome {
  std::map<std::pair<int32_t, int64_t>, Event> produced;  // (partition, offset) -> event
  std::vector<std::pair<Instant, int64_t>> sent[kPartitions];  // per partition: (send time, event time)
  std::map<std::string, std::set<int64_t>> counted;  // "key@start" -> counts seen (one, if exactly once)
  std::vector<std::string> late;
  std::vector<Advance> advances;
  std::vector<Commit> commits;
  std::map<std::string, Instant> starts;  // incarnation -> start
  std::map<std::string, std::set<int32_t>> owned;  // node -> partitions it ever owned
  std::vector<std::string> problems;
  bool done = false;
};

// Records the instance's watermark advances and commits.
class Recorder final : public e::EngineObserver {
 public:
  Recorder(Runtime& rt, Outcome& o, std::string name) : rt_(rt), o_(o), name_(std::move(name)) {}
  void on_watermark(const e::WatermarkAdvance& a) override {
    o_.advances.push_back(Advance{name_, rt_.now(), a.from.ms(), a.to.ms()});
  }
  void on_commit(const e::WatermarkCommit& c) override {
    o_.commits.push_back(Commit{name_, rt_.now(), c.watermark.ms()});
  }

 private:
  Runtime& rt_;
  Outcome& o_;
  std::string name_;
};

struct Spec {
  uint64_t seed = 1;
  int ticks = 1'200;  // 30 s of input, one event per tick, partitions in turn
  std::optional<Duration> crash_engine1_at;
  Duration restart_after = Duration::seconds(2);
  Duration read_at = Duration::seconds(100);
};

Outcome run_world(const Spec& spec) {
  Outcome o;
  // Declared before the simulation: its teardown unwinds the engine nodes,
  // whose guards still update these.
  std::map<std::string, int> incarnations;
  std::map<std::string, e::EngineInstance*> live;
  Simulation sim(spec.seed, streamsim::testing::quiet_config());
  sk::Cluster cluster(sim, cluster_config({{kSource, kPartitions}, {kSink, kPartitions}, {kLate, 1}, {kDlq, 1}}));

  sim.add_node("loadgen", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(1));
    sk::SimKafka kafka(rt);
    auto pc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"enable.idempotence", "true"}, {"linger.ms", "5"}});
    REQUIRE(pc.ok());
    auto prod = std::move(*kafka.producer(*pc));
    std::map<uint64_t, std::pair<int32_t, Event>> pending;
    auto collect = [&](const std::vector<k::DeliveryReport>& reports) {
      for (const auto& d : reports) {
        if (d.error) o.problems.push_back("delivery failed: " + d.error->message);
        else o.produced[{d.tp.partition, d.offset.value}] = pending[d.opaque].second;
      }
    };
    auto send = [&](uint64_t id, int32_t p, const Event& ev) {
      k::ProducerRecord r;
      r.topic = kSource;
      r.partition = p;
      r.key = e::encode_value(e::Value(ev.key));
      r.value = e::encode_value(e::Value(int64_t(id)));
      r.timestamp_ms = ev.ts;
      r.opaque = id;
      pending[id] = {p, ev};
      o.sent[p].push_back({rt.now(), ev.ts});
      if (!prod->produce(r).ok()) o.problems.push_back("produce refused");
    };
    const Instant start = rt.now();
    for (int i = 0; i < spec.ticks; ++i) {
      const int32_t p = i % kPartitions;
      const int64_t elapsed = (rt.now() - start).ns() / 1'000'000;
      // Up to 400 ms of disorder, well within the 2 s delay: nothing is late.
      const int64_t ts = kBaseMs + static_cast<int64_t>(static_cast<double>(elapsed) * kSpeed[p]) - ((i * 37) % 11) * 40;
      send(static_cast<uint64_t>(i), p, Event{"u" + std::to_string(p) + "-" + std::to_string((i / kPartitions) % 5), ts});
      rt.sleep_for(Duration::millis(kTickMs));
      collect(prod->poll(Duration::zero()));
    }
    const int64_t sentinel_ts = kBaseMs + spec.ticks * kTickMs + 60'000;
    for (int32_t p = 0; p < kPartitions; ++p)
      send(static_cast<uint64_t>(spec.ticks + p), p, Event{"sentinel-" + std::to_string(p), sentinel_ts, true});
    if (!prod->flush(Duration::seconds(60)).ok()) o.problems.push_back("input flush failed");
    collect(prod->poll(Duration::zero()));
  });

  for (int i = 0; i < 2; ++i) {
    const std::string node = "engine-" + std::to_string(i);
    sim.add_node(node, [&, node](SimRuntime& rt) {
      const std::string name = node + "#" + std::to_string(++incarnations[node]);
      o.starts[name] = rt.now();
      rt.sleep_for(Duration::seconds(1));
      sk::SimKafka kafka(rt);
      e::PipelineRegistry reg;
      e::register_builtin_pipelines(reg);
      auto p = reg.build("click-counts", {{"source", kSource},
                                          {"sink", kSink},
                                          {"window", "5s"},
                                          {"watermark_delay", "2s"},
                                          {"idle_timeout", "1h"},
                                          {"late_events", "route"}});
      REQUIRE(p.ok());
      Recorder recorder(rt, o, name);
      e::InstanceConfig ic;
      ic.application_id = kApp;
      ic.bootstrap_servers = cluster.bootstrap_servers();
      ic.trigger_interval = Duration::millis(200);
      ic.late_topic = kLate;
      ic.dead_letter_topic = kDlq;
      ic.kafka_timeout = Duration::seconds(5);
      ic.consumer_properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
      ic.producer_properties = {{"transaction.timeout.ms", "30000"}};
      ic.engine.observer = &recorder;
      auto inst = e::EngineInstance::create(rt, kafka, *p, ic);
      if (!inst.ok()) {
        o.problems.push_back(name + ": create: " + inst.error().format());
        return;
      }
      struct Live {
        std::map<std::string, e::EngineInstance*>& m;
        std::string n;
        ~Live() { m.erase(n); }
      } guard{live, node};
      live[node] = inst->get();
      auto r = (*inst)->run();
      if (!r.ok()) o.problems.push_back(name + ": run: " + r.error().format());
    });
  }

  // Which partitions each node owned, sampled: both must have done work.
  sim.add_node("sampler", [&](SimRuntime& rt) {
    while (rt.now() < Instant::epoch() + spec.read_at) {
      rt.sleep_for(Duration::millis(500));
      for (const auto& [node, inst] : live)
        for (int32_t p : inst->partitions()) o.owned[node].insert(p);
    }
  });

  if (spec.crash_engine1_at) {
    sim.add_node("nemesis", [&](SimRuntime& rt) {
      rt.sleep_until(Instant::epoch() + *spec.crash_engine1_at);
      SimRuntime* n = sim.find("engine-1");
      REQUIRE(n != nullptr);
      sim.crash(n->id());
      rt.sleep_for(spec.restart_after);
      sim.restart(n->id());
    });
  }

  sim.add_node("reader", [&](SimRuntime& rt) {
    rt.sleep_until(Instant::epoch() + spec.read_at);
    sk::SimKafka kafka(rt);
    std::map<std::string, int> emitted;
    for (const auto& r : read_committed(rt, kafka, cluster, kSink, kPartitions)) {
      auto key = r.key ? e::decode_value(*r.key) : std::nullopt;
      auto value = r.value ? e::decode_value(*r.value) : std::nullopt;
      auto start = header_of(r, e::headers::kWindowStart);
      if (!key || !key->is_string() || !value || !value->is_int() || !start) {
        o.problems.push_back("malformed output record at offset " + std::to_string(r.offset.value));
        continue;
      }
      const std::string w = key->as_string() + "@" + *start;
      if (++emitted[w] > 1) o.problems.push_back("window " + w + " emitted twice");
      o.counted[w].insert(value->as_int());
    }
    for (const auto& r : read_committed(rt, kafka, cluster, kLate, 1))
      o.late.push_back(header_of(r, e::headers::kSource).value_or("?"));
    o.done = true;
    sim.kernel().request_stop();
  });

  const RunStop stop = sim.run_until(Instant::epoch() + spec.read_at + Duration::seconds(120));
  if (stop != RunStop::stopped)
    o.problems.push_back(std::string("simulation ended with ") + to_string(stop) + ": " + sim.kernel().failure());
  return o;
}

// The batch reference: every non-sentinel event counted once in its window
// (no event is late here), compared with the committed output.
std::vector<std::string> reference_mismatches(const Outcome& o) {
  std::map<std::string, int64_t> expected;
  for (const auto& [where, ev] : o.produced) {
    if (ev.sentinel) continue;
    const int64_t start = ev.ts - ((ev.ts % kWindowMs) + kWindowMs) % kWindowMs;
    ++expected[ev.key + "@" + std::to_string(start)];
  }
  std::vector<std::string> wrong;
  for (const auto& [w, n] : expected) {
    auto it = o.counted.find(w);
    if (it == o.counted.end()) wrong.push_back(w + " missing (" + std::to_string(n) + ")");
    else if (it->second != std::set<int64_t>{n}) wrong.push_back(w + " counted wrongly, reference " + std::to_string(n));
  }
  for (const auto& [w, counts] : o.counted)
    if (!expected.count(w) && w.rfind("sentinel-", 0) != 0) wrong.push_back(w + " not in the reference");
  return wrong;
}

// The largest watermark an honest global watermark could have at time t: the
// minimum over all partitions of the largest event time sent to it by then,
// minus the delay (INT64_MIN while some partition has had nothing).
int64_t global_bound(const Outcome& o, Instant t) {
  int64_t bound = std::numeric_limits<int64_t>::max();
  for (int32_t p = 0; p < kPartitions; ++p) {
    int64_t max_ts = std::numeric_limits<int64_t>::min();
    for (const auto& [at, ts] : o.sent[p]) {
      if (at > t) break;
      max_ts = std::max(max_ts, ts);
    }
    if (max_ts == std::numeric_limits<int64_t>::min()) return max_ts;
    bound = std::min(bound, max_ts - kDelayMs);
  }
  return bound;
}

std::string summary(const Outcome& o) {
  std::ostringstream s;
  s << "produced=" << o.produced.size() << " windows=" << o.counted.size() << " late=" << o.late.size()
    << " advances=" << o.advances.size() << " commits=" << o.commits.size() << "\n";
  for (const auto& p : o.problems) s << "problem: " << p << "\n";
  for (const auto& [node, parts] : o.owned) {
    s << node << " owned:";
    for (int32_t p : parts) s << " " << p;
    s << "\n";
  }
  return s.str();
}

void require_global_and_exactly_once(const Outcome& o) {
  INFO(summary(o));
  REQUIRE(o.done);
  REQUIRE(o.problems.empty());
  REQUIRE(o.produced.size() > 1'000);
  const auto wrong = reference_mismatches(o);
  for (size_t i = 0; i < wrong.size() && i < 5; ++i) INFO("wrong: " << wrong[i]);
  REQUIRE(wrong.empty());
  // Every partition's own progress counts wherever it is owned: a moved
  // partition's backlog is never judged against the other partitions only.
  REQUIRE(o.late.empty());
  // Both instances reported watermarks, each bounded by the global minimum.
  std::set<std::string> nodes;
  size_t checked = 0;
  for (const auto& a : o.advances) {
    if (a.to == std::numeric_limits<int64_t>::max()) continue;
    const int64_t bound = global_bound(o, a.at);
    INFO(a.engine << " at " << format_instant(a.at) << ": watermark " << a.to << ", global bound " << bound);
    REQUIRE(a.to <= bound);
    nodes.insert(a.engine.substr(0, a.engine.find('#')));
    ++checked;
  }
  REQUIRE(nodes.size() == 2);
  REQUIRE(checked > 20);
}

}  // namespace

TEST_CASE("two instances: each reports the global watermark over all partitions, and output is exactly once",
          "[pipeline][watermark]") {
  Spec s;
  s.seed = 11;
  const Outcome o = run_world(s);
  require_global_and_exactly_once(o);
  INFO(summary(o));
  // Both instances owned partitions; the split matters only because the
  // partitions advance at different rates.
  REQUIRE(o.owned.size() == 2);
  for (const auto& [node, parts] : o.owned) REQUIRE(!parts.empty());
}

TEST_CASE("a restarted instance does not start below the watermark committed before its crash",
          "[pipeline][watermark][restore]") {
  Spec s;
  s.seed = 12;
  s.crash_engine1_at = Duration::seconds(15);
  const Outcome o = run_world(s);
  require_global_and_exactly_once(o);
  INFO(summary(o));
  REQUIRE(o.starts.count("engine-1#2"));
  const Instant restarted = o.starts.at("engine-1#2");
  int64_t committed = std::numeric_limits<int64_t>::min();
  for (const auto& c : o.commits)
    if (c.at < restarted) committed = std::max(committed, c.watermark);
  REQUIRE(committed > kBaseMs);  // windows had closed before the crash: the check is not vacuous
  bool reported = false;
  for (const auto& a : o.advances) {
    if (a.engine != "engine-1#2") continue;
    INFO("engine-1#2 advance from " << a.from << " to " << a.to << "; committed before it started: " << committed);
    REQUIRE(a.from >= committed);
    reported = true;
  }
  REQUIRE(reported);
  // The first incarnation's own commits bind it too (they are among the above).
  int64_t own = std::numeric_limits<int64_t>::min();
  for (const auto& c : o.commits)
    if (c.engine == "engine-1#1") own = std::max(own, c.watermark);
  REQUIRE(own > kBaseMs);
}
