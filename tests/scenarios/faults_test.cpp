// The fault catalog's kinds, one focused run each: a small scenario with one
// scripted fault, and a check that its effect on the system was real (a leader
// epoch moved, a zombie's commit was fenced, the group grew, the network was
// cut and healed). Also: every BUGGIFY point in the sources is documented in
// docs/faults.md, and the loader refuses kinds the scenario cannot support.
#include <catch2/catch.hpp>

#include <streamsim/faults/nemesis.h>
#include <streamsim/scenarios/pipeline.h>
#include <streamsim/scenarios/scenario.h>
#include <streamsim/sim/kafka/cluster.h>
#include <streamsim/sim/simulation.h>

#include <spdlog/sinks/null_sink.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>

using namespace streamsim;
namespace sk = streamsim::sim::kafka;

namespace {

// A scenario with a workload, a simulation and a nemesis, wired as the runner
// wires them. Members are destroyed nemesis first, then workload, then the
// simulation, as in the runner.
struct Harness {
  proto::Scenario s;
  std::unique_ptr<sim::Simulation> sim;
  std::unique_ptr<scenarios::Workload> w;
  std::unique_ptr<faults::Nemesis> nemesis;

  Harness(const std::string& text, uint64_t seed) {
    auto parsed = scenarios::parse_scenario(text, "test.textproto");
    if (!parsed.ok()) FAIL(parsed.error().format());
    s = *parsed;
    sim::SimulationConfig cfg;
    cfg.log_sink = std::make_shared<spdlog::sinks::null_sink_st>();
    cfg.buggify = s.faults().buggify().enabled();
    sim = std::make_unique<sim::Simulation>(seed, cfg);
    w = scenarios::make_workload(s);
    w->setup(*sim);
    nemesis = std::make_unique<faults::Nemesis>(*sim, s.faults(), w->fault_targets(), w->disk_loss_targets());
    nemesis->set_engine_targets(w->engine_targets());
    nemesis->set_hooks(w.get());
    nemesis->start();
  }
  void run_until_ms(int64_t ms) {
    auto stop = sim->run_until(Instant::epoch() + Duration::millis(ms));
    REQUIRE((stop == sim::RunStop::reached || stop == sim::RunStop::quiescent));
  }
  sim::NodeId node(const std::string& name) {
    auto* n = sim->find(name);
    REQUIRE(n != nullptr);
    return n->id();
  }
  bool logged(const std::string& needle) const {
    for (const auto& l : nemesis->log())
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
  std::string log_text() const {
    std::string out;
    for (const auto& l : nemesis->log()) out += l + "\n";
    return out;
  }
  // The committed metadata as the controller quorum serves it, read from an
  // observer node at the given time.
  std::shared_ptr<sk::ControllerView> observe_at_ms(int64_t ms) {
    auto view = std::make_shared<sk::ControllerView>();
    auto controllers = w->kafka_controllers();
    sim->add_node("observer-" + std::to_string(ms), [view, controllers, ms](sim::SimRuntime& rt) {
      rt.sleep_until(Instant::epoch() + Duration::millis(ms));
      for (int attempt = 0; attempt < 10; ++attempt) {
        auto r = sk::describe_controller(rt, controllers, Duration::seconds(2));
        if (r.ok()) {
          *view = *r;
          return;
        }
      }
    });
    return view;
  }
};

const char* kKafka = R"(
name: "test/faults-kafka"
run { safety_ms: 8000 liveness_ms: 20000 }
kafka {
  brokers: 3
  controllers: 3
  topics { name: "jepsen" partitions: 3 replication: 3 min_insync_replicas: 2 }
  producers: 2
  consumers: 1
  producer_config { key: "acks" value: "all" }
  producer_config { key: "enable.idempotence" value: "true" }
}
)";

std::string kafka_with(const std::string& faults) { return std::string(kKafka) + "faults {\n" + faults + "\n}\n"; }

const char* kPipeline = R"(
name: "test/faults-pipeline"
run { safety_ms: 14000 liveness_ms: 30000 }
pipeline {
  cluster { brokers: 3 controllers: 1 }
  input { rate: 100 keys: 20 }
  pipeline {
    name: "click-counts"
    params { key: "window" value: "2s" }
    params { key: "watermark_delay" value: "1s" }
    params { key: "idle_timeout" value: "1h" }
    params { key: "late_events" value: "route" }
  }
  instances: 2
  SPARES
  engine { trigger_interval_ms: 200 kafka_timeout_ms: 3000 transaction_timeout_ms: 20000 pause_before_commit_ms: 100 }
}
)";

std::string pipeline_with(const std::string& faults, int spares = 0) {
  std::string p = kPipeline;
  p.replace(p.find("SPARES"), 6, spares ? "spare_instances: " + std::to_string(spares) : "");
  return p + "faults {\n" + faults + "\n}\n";
}

int64_t epoch_sum(const sk::ControllerView& v, const std::string& topic) {
  int64_t sum = 0;
  for (const auto& [tp, p] : v.image->partitions)
    if (tp.topic == topic) sum += p.leader_epoch;
  return sum;
}

}  // namespace

TEST_CASE("PAUSE stops a broker's process for its duration, then resumes it", "[faults]") {
  Harness h(kafka_with(R"(scripted { at_ms: 2000 kind: PAUSE duration_ms: 2500 nodes: ["broker-1"] })"), 1);
  const sim::NodeId b = h.node("broker-1");
  h.run_until_ms(1999);
  REQUIRE(!h.sim->node(b).paused());
  h.run_until_ms(3000);
  REQUIRE(h.sim->node(b).paused());
  REQUIRE(h.sim->node(b).up());  // stopped, not dead: peers see silence
  // The controller noticed the silence: broker-1 missed its heartbeats and was fenced.
  auto during = h.observe_at_ms(4200);
  auto after = h.observe_at_ms(7500);
  h.run_until_ms(8000);
  REQUIRE(!h.sim->node(b).paused());
  REQUIRE(during->image != nullptr);
  REQUIRE(std::count(during->image->live_brokers.begin(), during->image->live_brokers.end(), 1) == 0);
  REQUIRE(after->image != nullptr);
  REQUIRE(std::count(after->image->live_brokers.begin(), after->image->live_brokers.end(), 1) == 1);
  REQUIRE(h.logged("pause broker-1 for"));
  REQUIRE(h.logged("resume broker-1"));
}

TEST_CASE("LEADER_MOVE moves a partition's leadership and bumps its leader epoch", "[faults]") {
  Harness h(kafka_with(R"(scripted { at_ms: 3000 kind: LEADER_MOVE })"), 2);
  auto before = h.observe_at_ms(2500);
  auto after = h.observe_at_ms(4500);
  h.run_until_ms(5000);
  INFO(h.log_text());
  REQUIRE(h.logged("leader move "));
  REQUIRE(before->image != nullptr);
  REQUIRE(after->image != nullptr);
  int64_t before_sum = 0, after_sum = 0;
  for (const auto& [tp, p] : before->image->partitions) before_sum += p.leader_epoch;
  for (const auto& [tp, p] : after->image->partitions) after_sum += p.leader_epoch;
  REQUIRE(after_sum == before_sum + 1);
}

TEST_CASE("CONTROLLER_FAILOVER crashes the active controller and another takes over", "[faults]") {
  Harness h(kafka_with(R"(scripted { at_ms: 3000 kind: CONTROLLER_FAILOVER duration_ms: 2000 })"), 3);
  auto before = h.observe_at_ms(2500);
  auto during = h.observe_at_ms(4500);
  h.run_until_ms(4000);
  INFO(h.log_text());
  REQUIRE(h.logged("controller failover: crash active controller-"));
  h.run_until_ms(6000);
  REQUIRE(before->active >= 0);
  REQUIRE(during->active >= 0);
  REQUIRE(during->active != before->active);
  REQUIRE(during->image->controller_epoch > before->image->controller_epoch);
  REQUIRE(h.sim->node(h.node("controller-" + std::to_string(before->active))).up());  // restarted
}

TEST_CASE("FSYNC_STALL slows a node's fsyncs for its duration", "[faults]") {
  Harness h(kafka_with(R"(scripted { at_ms: 2000 kind: FSYNC_STALL duration_ms: 1000 extra_latency_ms: 150 nodes: ["broker-0"] })"), 4);
  const sim::NodeId b = h.node("broker-0");
  h.run_until_ms(2500);
  REQUIRE(h.sim->node(b).fsync_stall() == Duration::millis(150));
  h.run_until_ms(3500);
  REQUIRE(h.sim->node(b).fsync_stall() == Duration::zero());
  REQUIRE(h.logged("fsync stall broker-0 +0.150000000s"));
}

TEST_CASE("ISOLATE_LEADER cuts a partition leader off and leadership moves", "[faults]") {
  Harness h(kafka_with(R"(scripted { at_ms: 2000 kind: ISOLATE_LEADER duration_ms: 3000 })"), 5);
  auto before = h.observe_at_ms(1900);
  auto after = h.observe_at_ms(4800);
  h.run_until_ms(6000);
  INFO(h.log_text());
  REQUIRE(h.logged("isolate leader broker-"));
  REQUIRE(h.logged("isolation of broker-"));
  REQUIRE(epoch_sum(*after, "jepsen") > epoch_sum(*before, "jepsen"));
}

TEST_CASE("PARTITION_HALVES splits the cluster in two and heals every cut", "[faults]") {
  Harness h(kafka_with(R"(scripted { at_ms: 2000 kind: PARTITION_HALVES duration_ms: 1000 })"), 6);
  h.run_until_ms(2500);
  std::vector<std::string> names = {"controller-0", "controller-1", "controller-2", "broker-0", "broker-1", "broker-2"};
  int cut = 0;
  for (auto& a : names)
    for (auto& b : names)
      if (a != b && h.sim->net().blocked(h.node(a), h.node(b))) {
        ++cut;
        REQUIRE(h.sim->net().blocked(h.node(b), h.node(a)));  // two-way
      }
  REQUIRE(cut == 2 * 3 * 3);  // 3 + 3 nodes: every cross pair, both directions
  h.run_until_ms(3500);
  for (auto& a : names)
    for (auto& b : names)
      if (a != b) REQUIRE(!h.sim->net().blocked(h.node(a), h.node(b)));
  REQUIRE(h.logged("partition halves {"));
}

TEST_CASE("ZOMBIE_ENGINE: a paused instance past its session comes back and its commit is fenced", "[faults][pipeline]") {
  Harness h(pipeline_with(R"(scripted { at_ms: 4000 kind: ZOMBIE_ENGINE duration_ms: 9000 nodes: ["engine-0"] })"), 7);
  h.run_until_ms(5000);
  REQUIRE(h.sim->node(h.node("engine-0")).paused());
  h.run_until_ms(14000);
  INFO(h.log_text());
  auto& pw = dynamic_cast<scenarios::PipelineWorkload&>(*h.w);
  REQUIRE(!h.sim->node(h.node("engine-0")).paused());
  REQUIRE(pw.engine_fenced() >= 1);
  REQUIRE(h.sim->coverage().count("kafka.group_session_expired") == 1);
}

TEST_CASE("ENGINE_SCALE: a spare instance joins the group, then leaves cleanly", "[faults][pipeline]") {
  Harness h(pipeline_with(R"(scripted { at_ms: 3000 kind: ENGINE_SCALE duration_ms: 5000 })", 1), 8);
  auto& pw = dynamic_cast<scenarios::PipelineWorkload&>(*h.w);
  const sim::NodeId spare = h.node("engine-2");
  REQUIRE(!pw.engine_active(spare));
  h.run_until_ms(6000);
  REQUIRE(pw.engine_active(spare));
  h.run_until_ms(12000);
  INFO(h.log_text());
  REQUIRE(!pw.engine_active(spare));
  REQUIRE(h.logged("scale out engine-2"));
  REQUIRE(h.logged("scale in engine-2"));
  // It ran as a group member (it reported watermarks of its own) and stopped on request.
  bool ran = false;
  for (const auto& wr : pw.history().watermarks) ran |= wr.engine.rfind("engine-2#", 0) == 0;
  REQUIRE(ran);
  REQUIRE(pw.history().engine_stops == 1);
}

TEST_CASE("ENGINE_SCALE without a spare: an instance leaves and rejoins", "[faults][pipeline]") {
  Harness h(pipeline_with(R"(scripted { at_ms: 3000 kind: ENGINE_SCALE duration_ms: 3000 nodes: ["engine-1"] })"), 9);
  auto& pw = dynamic_cast<scenarios::PipelineWorkload&>(*h.w);
  h.run_until_ms(4000);
  REQUIRE(!pw.engine_active(h.node("engine-1")));
  h.run_until_ms(10000);
  INFO(h.log_text());
  REQUIRE(pw.engine_active(h.node("engine-1")));
  REQUIRE(pw.history().engine_stops == 1);
  REQUIRE(h.logged("rejoins the group"));
}

TEST_CASE("ISOLATE_ENGINE cuts an instance off from its coordinators only", "[faults][pipeline]") {
  Harness h(pipeline_with(R"(scripted { at_ms: 4000 kind: ISOLATE_ENGINE duration_ms: 2000 nodes: ["engine-1"] })"), 10);
  h.run_until_ms(5000);
  INFO(h.log_text());
  REQUIRE(h.logged("isolate engine engine-1 from its coordinators"));
  const sim::NodeId e = h.node("engine-1");
  int cut = 0;
  for (auto b : h.w->kafka_brokers()) cut += h.sim->net().blocked(e, b) && h.sim->net().blocked(b, e);
  REQUIRE(cut >= 1);
  REQUIRE(cut <= 3);
  h.run_until_ms(6500);
  for (auto b : h.w->kafka_brokers()) REQUIRE(!h.sim->net().blocked(e, b));
}

TEST_CASE("stop_and_heal resumes, unstalls and unscales what is still in effect", "[faults][pipeline]") {
  Harness h(pipeline_with(R"(
    scripted { at_ms: 3000 kind: PAUSE duration_ms: 60000 nodes: ["broker-1"] }
    scripted { at_ms: 3000 kind: FSYNC_STALL duration_ms: 60000 nodes: ["broker-2"] }
    scripted { at_ms: 3000 kind: ENGINE_SCALE duration_ms: 60000 }
    scripted { at_ms: 3000 kind: PARTITION_HALVES duration_ms: 60000 })", 1), 11);
  h.run_until_ms(5000);
  auto& pw = dynamic_cast<scenarios::PipelineWorkload&>(*h.w);
  REQUIRE(h.sim->node(h.node("broker-1")).paused());
  REQUIRE(h.sim->node(h.node("broker-2")).fsync_stall() > Duration::zero());
  REQUIRE(pw.engine_active(h.node("engine-2")));
  h.nemesis->stop_and_heal();
  REQUIRE(!h.sim->node(h.node("broker-1")).paused());
  REQUIRE(h.sim->node(h.node("broker-2")).fsync_stall() == Duration::zero());
  REQUIRE(!pw.engine_active(h.node("engine-2")));
  REQUIRE(!h.sim->net().blocked(h.node("broker-0"), h.node("broker-1")));
  REQUIRE(h.logged("resume broker-1 (heal)"));
}

TEST_CASE("every BUGGIFY point in the sources is listed in docs/faults.md", "[faults][docs]") {
  namespace fs = std::filesystem;
  const fs::path root = STREAMSIM_SOURCE_DIR;
  std::ifstream doc_in(root / "docs" / "faults.md");
  REQUIRE(doc_in.good());
  std::stringstream doc;
  doc << doc_in.rdbuf();
  const std::regex call(R"re(buggify\(\s*"([^"]+)"\s*\))re");
  std::set<std::string> points;
  for (const char* dir : {"sim", "engine", "live", "scenarios", "harness", "faults"}) {
    if (!fs::exists(root / dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      if (!e.is_regular_file()) continue;
      const auto ext = e.path().extension();
      if (ext != ".cpp" && ext != ".h") continue;
      std::ifstream in(e.path());
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) points.insert((*it)[1]);
    }
  }
  REQUIRE(points.size() >= 8);
  for (const auto& p : points) {
    INFO("BUGGIFY point " << p << " is not documented in docs/faults.md");
    REQUIRE(doc.str().find("`" + p + "`") != std::string::npos);
  }
}

TEST_CASE("the loader checks each fault kind against the scenario", "[faults][loader]") {
  auto error_of = [](const std::string& text) {
    auto r = scenarios::parse_scenario(text, "f.textproto");
    return r.ok() ? std::string() : r.error().format();
  };
  // Engine kinds need the pipeline workload.
  REQUIRE_THAT(error_of(kafka_with(R"(scripted { at_ms: 1 kind: ZOMBIE_ENGINE duration_ms: 9000 })")),
               Catch::Contains("faults.scripted[0].kind: ZOMBIE_ENGINE needs engine instances"));
  REQUIRE_THAT(error_of(kafka_with("random { kinds: [ENGINE_SCALE] mean_interval_ms: 100 max_duration_ms: 10 }")),
               Catch::Contains("faults.random.kinds: ENGINE_SCALE needs engine instances"));
  // Durations.
  REQUIRE_THAT(error_of(kafka_with(R"(scripted { at_ms: 1 kind: PAUSE nodes: ["broker-0"] })")),
               Catch::Contains("faults.scripted[0].duration_ms: PAUSE needs a positive duration_ms"));
  REQUIRE_THAT(error_of(kafka_with(R"(scripted { at_ms: 1 kind: LEADER_MOVE duration_ms: 5 })")),
               Catch::Contains("LEADER_MOVE is instantaneous"));
  REQUIRE_THAT(error_of(pipeline_with(R"(scripted { at_ms: 1 kind: ZOMBIE_ENGINE duration_ms: 1000 })")),
               Catch::Contains("longer than its session timeout"));
  REQUIRE_THAT(error_of(kafka_with("random { kinds: [FSYNC_STALL] mean_interval_ms: 100 }")),
               Catch::Contains("faults.random.max_duration_ms: FSYNC_STALL needs a positive duration"));
  // Targets.
  REQUIRE_THAT(error_of(kafka_with(R"(scripted { at_ms: 1 kind: ISOLATE_LEADER duration_ms: 5 nodes: ["broker-0"] })")),
               Catch::Contains("faults.scripted[0].nodes: ISOLATE_LEADER finds its target"));
  REQUIRE_THAT(error_of(pipeline_with(R"(scripted { at_ms: 1 kind: ISOLATE_ENGINE duration_ms: 5 nodes: ["broker-0"] })")),
               Catch::Contains("ISOLATE_ENGINE targets engine instance nodes"));
  // Spares need ENGINE_SCALE; with it, the spare is a node faults may name.
  REQUIRE_THAT(error_of(pipeline_with("", 1)), Catch::Contains("pipeline.spare_instances: spare instances start only"));
  REQUIRE(error_of(pipeline_with(R"(scripted { at_ms: 1 kind: ENGINE_SCALE duration_ms: 5 nodes: ["engine-2"] })", 1)).empty());
  // Positions: the error points at the offending line.
  const std::string text = kafka_with(R"(scripted { at_ms: 1 kind: PAUSE nodes: ["broker-0"] })");
  auto r = scenarios::parse_scenario(text, "f.textproto");
  REQUIRE(!r.ok());
  REQUIRE(r.error().line > 0);
  REQUIRE(r.error().file == "f.textproto");
}
