// The controller quorum: failover when the active controller crashes or is cut
// off, no two active controllers in one term, committed metadata surviving a
// restart of every controller, and brokers ignoring images from replaced
// controllers.
#include <catch2/catch.hpp>

#include "../support/test_support.h"

#include "../../sim/kafka/controller.h"

#include <streamsim/core/trace.h>
#include <streamsim/sim/kafka/client.h>
#include <streamsim/sim/kafka/cluster.h>

#include <map>
#include <optional>
#include <set>
#include <string>

using namespace streamsim;
using namespace streamsim::sim;
using namespace streamsim::sim::kafka;
namespace k = streamsim::kafka;

namespace {

ClusterConfig quorum_config(int controllers) {
  ClusterConfig c;
  c.brokers = 3;
  c.controllers = controllers;
  TopicState t;
  t.name = "t";
  t.partitions = 3;
  t.replication = 3;
  t.min_insync_replicas = 2;
  c.topics.push_back(t);
  return c;
}

// Collects the quorum's trace events: who became active in which term, and
// which versions each node committed.
struct QuorumEvents final : TraceSink {
  struct Event {
    Instant time;
    std::string node;
    std::string what;
    uint64_t a = 0, b = 0;
  };
  std::vector<Event> events;
  void on_event(const TraceEvent& ev, std::string_view node) override {
    if (ev.kind != TraceKind::custom || ev.detail.rfind("kafka/controller_", 0) != 0) return;
    events.push_back({ev.time, std::string(node), std::string(ev.detail), ev.a, ev.b});
  }
  // Every node that led or committed in each term.
  std::map<uint64_t, std::set<std::string>> writers_by_term() const {
    std::map<uint64_t, std::set<std::string>> out;
    for (const auto& e : events) {
      if (e.what == "kafka/controller_leader" || e.what == "kafka/controller_commit") out[e.a].insert(e.node);
    }
    return out;
  }
  // term -> (lowest, highest) committed version.
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> commits_by_term() const {
    std::map<uint64_t, std::pair<uint64_t, uint64_t>> out;
    for (const auto& e : events) {
      if (e.what != "kafka/controller_commit") continue;
      auto [it, fresh] = out.try_emplace(e.a, e.b, e.b);
      if (!fresh) {
        it->second.first = std::min(it->second.first, e.b);
        it->second.second = std::max(it->second.second, e.b);
      }
    }
    return out;
  }
  // When the first controller became active in a term above `term`.
  std::optional<Instant> first_leader_after(uint64_t term) const {
    for (const auto& e : events) {
      if (e.what == "kafka/controller_leader" && e.a > term) return e.time;
    }
    return std::nullopt;
  }
  size_t count(const std::string& what) const {
    size_t n = 0;
    for (const auto& e : events) n += e.what == what;
    return n;
  }
};

// Split brain and leader completeness as the trace shows them: one node leads
// and commits per term, and every version committed in a term is above every
// version committed in an earlier term.
void require_one_writer_per_term(const QuorumEvents& q) {
  for (const auto& [term, nodes] : q.writers_by_term()) {
    INFO("term " << term);
    REQUIRE(nodes.size() == 1);
  }
  uint64_t prev_max = 0;
  for (const auto& [term, range] : q.commits_by_term()) {
    INFO("term " << term);
    REQUIRE(range.first > prev_max);
    prev_max = range.second;
  }
}

struct Found {
  int index = -1;
  std::shared_ptr<const MetadataImage> image;
};

// Asks every controller for its committed image; the one that answers as the
// active controller with the newest image wins. Suspends.
Found find_active(SimRuntime& rt, const Cluster& cluster) {
  Found f;
  for (size_t i = 0; i < cluster.controller_nodes().size(); ++i) {
    auto r = rt.net().call(rt, rt.id(), cluster.controller_nodes()[i], kControllerPort,
                           std::make_shared<ControllerMetadataReq>(), Duration::millis(200));
    if (!r.ok()) continue;
    const auto& resp = payload_as<ControllerMetadataResp>(*r);
    if (resp.error != Errc::no_error || !resp.image) continue;
    if (!f.image || resp.image->controller_epoch > f.image->controller_epoch) {
      f.index = static_cast<int>(i);
      f.image = resp.image;
    }
  }
  return f;
}

// The answer of one controller to ControllerMetadata (its error), or timed out.
Errc ask(SimRuntime& rt, NodeId controller) {
  auto r = rt.net().call(rt, rt.id(), controller, kControllerPort, std::make_shared<ControllerMetadataReq>(),
                         Duration::millis(200));
  if (!r.ok()) return Errc::local_timed_out;
  return payload_as<ControllerMetadataResp>(*r).error;
}

std::shared_ptr<const MetadataImage> broker_image(SimRuntime& rt, NodeId broker) {
  auto r = rt.net().call(rt, rt.id(), broker, kBrokerPort, std::make_shared<MetadataReq>(), Duration::millis(200));
  if (!r.ok()) return nullptr;
  return payload_as<MetadataResp>(*r).image;
}

bool all_led_elsewhere(const MetadataImage& m, const std::string& topic, BrokerId dead) {
  for (const auto& [tp, p] : m.partitions) {
    if (tp.topic == topic && (p.leader < 0 || p.leader == dead)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("kafka controller: the quorum fails over when the active controller crashes", "[kafka_controller]") {
  QuorumEvents q;
  Simulation sim(31, streamsim::testing::quiet_config());
  sim.set_trace_sink(&q);
  const ClusterConfig cfg = quorum_config(3);
  Cluster cluster(sim, cfg);
  std::string failure = "probe did not finish";
  Duration failover_took = Duration::max();
  sim.add_node("probe", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(2));
    Found before = find_active(rt, cluster);
    if (before.index < 0) return void(failure = "no active controller after 2 s");
    sim.crash(cluster.controller_node(before.index));
    const Instant crashed = rt.now();
    Found after;
    for (int i = 0; i < 60 && (after.index < 0 || after.index == before.index); ++i) {
      rt.sleep_for(Duration::millis(50));
      after = find_active(rt, cluster);
    }
    if (after.index < 0 || after.index == before.index) return void(failure = "no controller took over");
    const auto elected = q.first_leader_after(static_cast<uint64_t>(before.image->controller_epoch));
    if (!elected) return void(failure = "no leader event after the crash");
    failover_took = *elected - crashed;
    if (after.image->controller_epoch <= before.image->controller_epoch) return void(failure = "epoch did not grow");
    // A broker dies after the failover: the new active controller fences it and
    // elects new leaders for the partitions it led.
    const BrokerId dead = after.image->partitions.at({"t", 0}).leader;
    if (dead < 0) return void(failure = "t-0 has no leader");
    sim.crash(cluster.broker_node(dead));
    bool moved = false;
    for (int i = 0; i < 80 && !moved; ++i) {
      rt.sleep_for(Duration::millis(50));
      Found now = find_active(rt, cluster);
      moved = now.image && all_led_elsewhere(*now.image, "t", dead);
    }
    if (!moved) return void(failure = "partitions kept the dead leader");
    // The brokers got the new leaders from the new active controller.
    const BrokerId alive = (dead + 1) % 3;
    std::shared_ptr<const MetadataImage> seen;
    for (int i = 0; i < 20 && !(seen && all_led_elsewhere(*seen, "t", dead)); ++i) {
      rt.sleep_for(Duration::millis(50));
      seen = broker_image(rt, cluster.broker_node(alive));
    }
    if (!seen || !all_led_elsewhere(*seen, "t", dead)) return void(failure = "brokers did not learn the new leaders");
    failure.clear();
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(30));
  INFO(failure);
  REQUIRE(failure.empty());
  INFO("failover took " << failover_took.ns() / 1000000 << " ms");
  // Detection takes at most 2 election timeouts after the last heartbeat, the
  // vote a round trip; a split vote (both survivors time out together) costs
  // one more round of at most 2 timeouts.
  REQUIRE(failover_took <= cfg.controller_election_timeout * 4 + Duration::millis(100));
  REQUIRE(q.count("kafka/controller_leader") >= 2);
  require_one_writer_per_term(q);
}

TEST_CASE("kafka controller: an active controller cut off from the quorum stops acting", "[kafka_controller]") {
  QuorumEvents q;
  Simulation sim(32, streamsim::testing::quiet_config());
  sim.set_trace_sink(&q);
  const ClusterConfig cfg = quorum_config(3);
  Cluster cluster(sim, cfg);
  std::string failure = "probe did not finish";
  sim.add_node("probe", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(2));
    Found before = find_active(rt, cluster);
    if (before.index < 0) return void(failure = "no active controller after 2 s");
    const NodeId cut = cluster.controller_node(before.index);
    // Only the quorum's links: brokers (and this probe) still reach it.
    for (NodeId c : cluster.controller_nodes()) {
      if (c != cut) sim.net().partition(cut, c, true);
    }
    // It resigns within its check-quorum window and answers not_controller.
    Errc old_answer = Errc::no_error;
    for (int i = 0; i < 40 && old_answer != Errc::not_controller; ++i) {
      rt.sleep_for(Duration::millis(25));
      old_answer = ask(rt, cut);
    }
    if (old_answer != Errc::not_controller) return void(failure = "the cut-off controller kept acting");
    Found after;
    for (int i = 0; i < 40 && (after.index < 0 || after.index == before.index); ++i) {
      rt.sleep_for(Duration::millis(50));
      after = find_active(rt, cluster);
    }
    if (after.index < 0 || after.index == before.index) return void(failure = "the majority elected no controller");
    // Brokers follow the new active controller (a broker learns its images).
    std::shared_ptr<const MetadataImage> seen;
    for (int i = 0; i < 40 && !(seen && seen->controller_epoch >= after.image->controller_epoch); ++i) {
      rt.sleep_for(Duration::millis(50));
      seen = broker_image(rt, cluster.broker_node(0));
    }
    if (!seen || seen->controller_epoch < after.image->controller_epoch) return void(failure = "brokers stayed behind");
    // A broker failure during the cut is handled by the new active controller.
    const BrokerId dead = after.image->partitions.at({"t", 1}).leader;
    sim.crash(cluster.broker_node(dead));
    bool moved = false;
    for (int i = 0; i < 80 && !moved; ++i) {
      rt.sleep_for(Duration::millis(50));
      Found now = find_active(rt, cluster);
      moved = now.image && now.index != before.index && all_led_elsewhere(*now.image, "t", dead);
    }
    if (!moved) return void(failure = "no election during the cut");
    // Heal: the old controller rejoins as a follower; the cluster keeps one
    // active controller.
    for (NodeId c : cluster.controller_nodes()) {
      if (c != cut) sim.net().unpartition(cut, c, true);
    }
    rt.sleep_for(Duration::seconds(2));
    if (find_active(rt, cluster).index < 0) return void(failure = "no active controller after the heal");
    failure.clear();
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(30));
  INFO(failure);
  REQUIRE(failure.empty());
  REQUIRE(q.count("kafka/controller_resign") >= 1);
  require_one_writer_per_term(q);
}

TEST_CASE("kafka controller: no two active controllers in one term under random controller faults",
          "[kafka_controller]") {
  // Crashes and partitions of controllers only, several at once, on 10 seeds:
  // the trace must show one leader per term and commits growing across terms.
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    QuorumEvents q;
    Simulation sim(seed, streamsim::testing::quiet_config());
    sim.set_trace_sink(&q);
    Cluster cluster(sim, quorum_config(3));
    bool done = false;
    sim.add_node("nemesis", [&](SimRuntime& rt) {
      const auto& cs = cluster.controller_nodes();
      for (int round = 0; round < 40; ++round) {
        rt.sleep_for(Duration::millis(100 + static_cast<int64_t>(rt.random().uniform(400))));
        const NodeId a = cs[rt.random().uniform(cs.size())];
        const NodeId b = cs[rt.random().uniform(cs.size())];
        if (rt.random().bernoulli(0.5)) {
          if (sim.node(a).up()) {
            sim.crash(a);
          } else {
            sim.restart(a);
          }
        } else if (a != b) {
          if (sim.net().blocked(a, b)) {
            sim.net().unpartition(a, b, true);
          } else {
            sim.net().partition(a, b, true);
          }
        }
      }
      sim.net().heal_all();
      rt.sleep_for(Duration::millis(100));  // a crash in the last round finishes unwinding
      for (NodeId c : cs) {
        if (!sim.node(c).up()) sim.restart(c);
      }
      rt.sleep_for(Duration::seconds(3));
      done = find_active(rt, cluster).index >= 0;
      sim.kernel().request_stop();
    });
    sim.run_until(Instant::epoch() + Duration::seconds(60));
    INFO("seed " << seed);
    REQUIRE(done);
    REQUIRE(q.count("kafka/controller_leader") >= 2);
    require_one_writer_per_term(q);
  }
}

TEST_CASE("kafka controller: committed metadata survives a restart of every controller", "[kafka_controller]") {
  Simulation sim(33, streamsim::testing::quiet_config());
  Cluster cluster(sim, quorum_config(3));
  std::string failure = "probe did not finish";
  std::shared_ptr<const MetadataImage> before, after;
  sim.add_node("probe", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(2));
    // A topic through the admin client and a leader change through a broker
    // failure: both are quorum-committed changes.
    SimKafka kafka(rt);
    auto ac = k::Config::make(k::Role::admin, {{"bootstrap.servers", cluster.bootstrap_servers()}});
    if (!ac.ok()) return void(failure = "admin config");
    auto admin = std::move(*kafka.admin(*ac));
    auto created = admin->create_topics({{"u", 2, 3, {}}}, Duration::seconds(5));
    if (!created.ok() || created->size() != 1 || created->at(0).has_value()) return void(failure = "create_topics failed");
    sim.crash(cluster.broker_node(0));
    for (int i = 0; i < 60; ++i) {
      rt.sleep_for(Duration::millis(50));
      Found f = find_active(rt, cluster);
      if (f.image && all_led_elsewhere(*f.image, "t", 0)) {
        before = f.image;
        break;
      }
    }
    if (!before) return void(failure = "no leader change before the restart");
    for (NodeId c : cluster.controller_nodes()) sim.crash(c);
    rt.sleep_for(Duration::millis(500));
    for (NodeId c : cluster.controller_nodes()) sim.restart(c);
    for (int i = 0; i < 60 && !after; ++i) {
      rt.sleep_for(Duration::millis(50));
      after = find_active(rt, cluster).image;
    }
    if (!after) return void(failure = "no active controller after the restart");
    failure.clear();
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(30));
  INFO(failure);
  REQUIRE(failure.empty());
  REQUIRE(after->controller_epoch > before->controller_epoch);
  REQUIRE(after->version > before->version);
  REQUIRE(after->topics.count("u") == 1);
  REQUIRE(after->topics.count("t") == 1);
  for (const auto& [tp, p] : before->partitions) {
    INFO(tp.topic << "-" << tp.partition);
    REQUIRE(after->partitions.count(tp) == 1);
    REQUIRE(after->partitions.at(tp).leader_epoch >= p.leader_epoch);
    REQUIRE(after->partitions.at(tp).leader != 0);
  }
  // Fencing survives too: the dead broker is still fenced, the others live.
  REQUIRE(after->live_brokers == std::vector<BrokerId>{1, 2});
  REQUIRE(after->broker_epochs == before->broker_epochs);
}

TEST_CASE("kafka controller: a single controller keeps working and fails over by restarting", "[kafka_controller]") {
  Simulation sim(34, streamsim::testing::quiet_config());
  Cluster cluster(sim, quorum_config(1));
  std::string failure = "probe did not finish";
  sim.add_node("probe", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(1));
    Found first = find_active(rt, cluster);
    if (first.index != 0) return void(failure = "controller-0 is not active");
    sim.crash(cluster.controller_node(0));
    rt.sleep_for(Duration::millis(300));
    sim.restart(cluster.controller_node(0));
    sim.crash(cluster.broker_node(1));
    bool moved = false;
    for (int i = 0; i < 80 && !moved; ++i) {
      rt.sleep_for(Duration::millis(50));
      Found f = find_active(rt, cluster);
      moved = f.image && f.image->controller_epoch > first.image->controller_epoch && all_led_elsewhere(*f.image, "t", 1);
    }
    if (!moved) return void(failure = "no election after the restart");
    failure.clear();
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(30));
  INFO(failure);
  REQUIRE(failure.empty());
}

TEST_CASE("kafka controller: a broker ignores the image of a replaced controller", "[kafka_controller]") {
  // A scripted controller feeds broker-0 images: first (epoch 2, version 10),
  // then a stale (epoch 1, version 50) from a controller that has since been
  // replaced, then a newer (epoch 3, version 11).
  ClusterConfig cfg;
  cfg.brokers = 1;
  cfg.controllers = 1;
  Simulation sim(35, streamsim::testing::quiet_config());
  const NodeId controller = static_cast<NodeId>(sim.node_count());
  const NodeId broker = controller + 1;
  auto image = [](int32_t epoch, int64_t version, const std::string& topic) {
    auto m = std::make_shared<MetadataImage>();
    m->controller_epoch = epoch;
    m->version = version;
    m->live_brokers = {0};
    m->broker_epochs[0] = 0;  // the broker's registration: its first incarnation
    TopicState t;
    t.name = topic;
    m->topics[topic] = t;
    PartitionState p;
    p.tp = {topic, 0};
    p.leader = 0;
    p.leader_epoch = epoch;
    p.replicas = p.isr = {0};
    m->partitions[p.tp] = p;
    return std::shared_ptr<const MetadataImage>(m);
  };
  int phase = 0;  // 0: current, 1: stale, 2: newer
  sim.add_node("controller-0", [&](SimRuntime& rt) {
    Inbox& in = rt.net().listen(rt.id(), kControllerPort);
    for (;;) {
      auto r = in.recv(rt);
      if (!r.ok()) return;
      if (!dynamic_cast<const BrokerHeartbeatReq*>(r->body.get())) continue;
      auto resp = std::make_shared<BrokerHeartbeatResp>();
      resp->image = phase == 0 ? image(2, 10, "current") : phase == 1 ? image(1, 50, "stale") : image(3, 11, "newer");
      resp->controller_epoch = resp->image->controller_epoch;
      rt.net().reply(*r, resp);
    }
  });
  sim.add_node("broker-0", [&](SimRuntime& rt) { run_broker(rt, 0, cfg, {controller}, {broker}); });
  std::vector<std::string> seen;  // the broker's topic after each phase
  sim.add_node("probe", [&](SimRuntime& rt) {
    for (int p = 0; p < 3; ++p) {
      phase = p;
      rt.sleep_for(Duration::seconds(1));  // ten heartbeats
      auto m = broker_image(rt, broker);
      seen.push_back(m && !m->topics.empty() ? m->topics.begin()->first : "-");
    }
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(10));
  REQUIRE(seen == std::vector<std::string>{"current", "current", "newer"});
}

TEST_CASE("kafka controller: an image survives encoding unchanged", "[kafka_controller]") {
  // The quorum relies on (term, version) naming one image, also after a restart
  // decodes it from disk: every field must come back.
  MetadataImage m;
  m.version = 42;
  m.controller_epoch = 7;
  m.live_brokers = {0, 2};
  m.broker_epochs = {{0, 3}, {1, 1}, {2, 5}};
  TopicState t;
  t.name = "x";
  t.partitions = 2;
  t.replication = 3;
  t.min_insync_replicas = 2;
  t.unclean_leader_election = true;
  t.flush_messages = 10;
  m.topics["x"] = t;
  PartitionState p;
  p.tp = {"x", 1};
  p.leader = 2;
  p.leader_epoch = 4;
  p.partition_epoch = 9;
  p.replicas = {1, 2, 0};
  p.isr = {2};
  m.partitions[p.tp] = p;
  const std::string text = encode_image(m);
  MetadataImage back;
  REQUIRE(decode_image(text, &back));
  REQUIRE(encode_image(back) == text);
  REQUIRE(back.live_brokers == m.live_brokers);
  REQUIRE(back.broker_epochs == m.broker_epochs);
  REQUIRE(back.partitions.at(p.tp).isr == p.isr);
  REQUIRE_FALSE(decode_image("version 1\nbogus 2\n", &back));
}
