// Stream-static join end to end on a simulated 3-broker cluster: the built-in
// enriched-clicks pipeline in an EngineInstance loads its users table from a
// compacted topic (read_committed, so an aborted table write stays invisible,
// and tombstones delete), counts clicks per region, and reloads the table when
// it restarts after a crash, so clicks after the restart see a table change
// that the running instance did not.
#include <catch2/catch.hpp>

#include "pipeline_test_util.h"

#include "../support/test_support.h"

#include <streamsim/engine/instance.h>
#include <streamsim/engine/registry.h>
#include <streamsim/sim/kafka/client.h>
#include <streamsim/sim/kafka/cluster.h>

#include <cstdlib>
#include <map>
#include <optional>
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

namespace {

constexpr int32_t kPartitions = 2;
constexpr int64_t kBaseMs = 1'000'000;
constexpr int64_t kStepMs = 50;
constexpr int64_t kWindowMs = 2'000;
constexpr int kPhase1 = 100;  // clicks before the table change
constexpr int kPhase3 = 60;   // clicks after the restart
const std::string kSource = "clicks";
const std::string kUsers = "users";
const std::string kSink = "region-counts";
const std::string kDlq = "region-counts-dlq";

std::string user_of(int i) { return "u" + std::to_string(i % 5 + 1); }
int64_t time_of(int i) { return kBaseMs + i * kStepMs; }

struct Outcome {
  std::map<std::pair<std::string, int64_t>, int64_t> counts;  // (region, window start) -> count, over tasks
  std::vector<std::string> problems;
  uint64_t phase1_seen = 0;  // records the instance had taken in before the table changed
  bool done = false;
};

Outcome run_world(uint64_t seed, bool crash_after_change) {
  Outcome o;
  std::map<std::string, e::EngineInstance*> live;
  Simulation sim(seed, streamsim::testing::quiet_config());
  sk::Cluster cluster(sim, cluster_config({{kSource, kPartitions}, {kSink, kPartitions}, {kDlq, 1}}));
  bool table_written = false;

  sim.add_node("loadgen", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(1));
    sk::SimKafka kafka(rt);
    auto ac = k::Config::make(k::Role::admin, {{"bootstrap.servers", cluster.bootstrap_servers()}});
    REQUIRE(ac.ok());
    auto admin = std::move(*kafka.admin(*ac));
    k::TopicSpec users;
    users.name = kUsers;
    users.partitions = 2;
    users.replication = 3;
    users.config = {{"cleanup.policy", "compact"}, {"min.insync.replicas", "2"}};
    bool created = false;
    for (int i = 0; i < 20 && !created; ++i) {
      auto r = admin->create_topics({users}, Duration::seconds(5));
      created = r.ok() && r->size() == 1 && (!(*r)[0] || (*r)[0]->code == k::Errc::topic_already_exists);
      if (!created) rt.sleep_for(Duration::millis(500));
    }
    if (!created) o.problems.push_back("cannot create the users topic");

    // The table, written transactionally: one committed batch, one committed
    // change (an overwrite and a tombstone), one aborted change.
    auto tc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"transactional.id", "users-writer"}});
    REQUIRE(tc.ok());
    auto tp = std::move(*kafka.producer(*tc));
    if (!tp->init_transactions(Duration::seconds(30)).ok()) o.problems.push_back("init_transactions failed");
    auto txn = [&](const std::vector<std::pair<std::string, std::optional<std::string>>>& rows, bool commit) {
      if (!tp->begin_transaction().ok()) o.problems.push_back("begin_transaction failed");
      for (const auto& [user, region] : rows) {
        k::ProducerRecord r;
        r.topic = kUsers;
        r.key = e::encode_value(e::Value(user));
        if (region) r.value = e::encode_value(e::Value(*region));
        if (!tp->produce(r).ok()) o.problems.push_back("table produce refused");
      }
      auto end = commit ? tp->commit_transaction(Duration::seconds(30)) : tp->abort_transaction(Duration::seconds(30));
      if (!end.ok()) o.problems.push_back(std::string(commit ? "commit" : "abort") + " failed: " + end.error().message);
    };
    txn({{"u1", "eu"}, {"u2", "us"}, {"u3", "eu"}, {"u4", "apac"}}, true);
    txn({{"u3", "us"}, {"u4", std::nullopt}}, true);
    txn({{"u1", "aborted"}, {"u2", "aborted"}}, false);
    table_written = true;

    auto pc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"enable.idempotence", "true"}, {"linger.ms", "5"}});
    REQUIRE(pc.ok());
    auto prod = std::move(*kafka.producer(*pc));
    auto click = [&](int i, std::optional<int32_t> partition, const std::string& user, int64_t ts) {
      k::ProducerRecord r;
      r.topic = kSource;
      r.partition = partition;
      r.key = e::encode_value(e::Value(user));
      r.value = e::encode_value(e::Value(int64_t{i}));
      r.timestamp_ms = ts;
      if (!prod->produce(r).ok()) o.problems.push_back("click produce refused");
    };
    rt.sleep_for(Duration::seconds(2));
    for (int i = 0; i < kPhase1; ++i) {
      click(i, std::nullopt, user_of(i), time_of(i));
      rt.sleep_for(Duration::millis(kStepMs));
    }
    if (!prod->flush(Duration::seconds(30)).ok()) o.problems.push_back("phase 1 flush failed");

    // The table changes while the instance runs: u5 gets a region.
    rt.sleep_until(Instant::epoch() + Duration::seconds(14));
    for (const auto& [n, inst] : live) o.phase1_seen += inst->stats().records_in;
    txn({{"u5", "sa"}}, true);

    rt.sleep_until(Instant::epoch() + Duration::seconds(22));
    for (int i = kPhase1; i < kPhase1 + kPhase3; ++i) {
      click(i, std::nullopt, user_of(i), time_of(i));
      rt.sleep_for(Duration::millis(kStepMs));
    }
    // Far ahead in event time on every partition: every data window closes.
    for (int32_t p = 0; p < kPartitions; ++p) click(-1, p, "sentinel", time_of(kPhase1 + kPhase3) + 60'000);
    if (!prod->flush(Duration::seconds(30)).ok()) o.problems.push_back("phase 3 flush failed");
  });

  sim.add_node("engine", [&](SimRuntime& rt) {
    while (!table_written) rt.sleep_for(Duration::millis(100));
    sk::SimKafka kafka(rt);
    e::PipelineRegistry reg;
    e::register_builtin_pipelines(reg);
    auto p = reg.build("enriched-clicks", {{"source", kSource},
                                           {"users", kUsers},
                                           {"sink", kSink},
                                           {"window", "2s"},
                                           {"watermark_delay", "1s"},
                                           {"idle_timeout", "1h"}});
    REQUIRE(p.ok());
    e::InstanceConfig ic;
    ic.application_id = "enrich";
    ic.bootstrap_servers = cluster.bootstrap_servers();
    ic.dead_letter_topic = kDlq;
    ic.kafka_timeout = Duration::seconds(5);
    ic.consumer_properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    ic.producer_properties = {{"transaction.timeout.ms", "30000"}};
    auto inst = e::EngineInstance::create(rt, kafka, *p, ic);
    if (!inst.ok()) {
      o.problems.push_back("create: " + inst.error().format());
      return;
    }
    struct Live {
      std::map<std::string, e::EngineInstance*>& m;
      ~Live() { m.erase("engine"); }
    } guard{live};
    live["engine"] = inst->get();
    auto r = (*inst)->run();
    if (!r.ok()) o.problems.push_back("run: " + r.error().format());
  });

  if (crash_after_change) {
    sim.add_node("nemesis", [&](SimRuntime& rt) {
      rt.sleep_until(Instant::epoch() + Duration::seconds(16));
      SimRuntime* n = sim.find("engine");
      REQUIRE(n != nullptr);
      sim.crash(n->id());
      rt.sleep_for(Duration::seconds(1));
      sim.restart(n->id());
    });
  }

  sim.add_node("reader", [&](SimRuntime& rt) {
    rt.sleep_until(Instant::epoch() + Duration::seconds(45));
    sk::SimKafka kafka(rt);
    auto cfg = k::Config::make(k::Role::consumer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                    {"isolation.level", "read_committed"}});
    REQUIRE(cfg.ok());
    auto c = std::move(*kafka.consumer(*cfg));
    std::vector<k::TopicPartitionOffset> parts;
    for (int32_t p = 0; p < kPartitions; ++p) parts.push_back({{kSink, p}, k::KafkaOffset::beginning(), std::nullopt});
    (void)c->assign(parts);
    Instant last = rt.now();
    while (rt.now() - last < Duration::seconds(3)) {
      auto got = c->poll(Duration::millis(100), 1'000);
      if (!got.ok() || got->empty()) continue;
      last = rt.now();
      for (const auto& r : *got) {
        auto key = r.key ? e::decode_value(*r.key) : std::nullopt;
        auto value = r.value ? e::decode_value(*r.value) : std::nullopt;
        auto start = header_of(r, e::headers::kWindowStart);
        if (!key || !key->is_string() || !value || !value->is_int() || !start) {
          o.problems.push_back("malformed output record");
          continue;
        }
        o.counts[{key->as_string(), std::stoll(*start)}] += value->as_int();
      }
    }
    o.done = true;
    sim.kernel().request_stop();
  });

  const RunStop stop = sim.run_until(Instant::epoch() + Duration::seconds(100));
  if (stop != RunStop::stopped) o.problems.push_back(std::string("simulation ended with ") + to_string(stop));
  return o;
}

// What the output must be: the table before the change is {u1: eu, u2: us,
// u3: us} (u4 deleted, u5 unknown; the aborted write invisible); after it
// u5 is in "sa", which only a reloaded table shows.
std::map<std::pair<std::string, int64_t>, int64_t> expected(bool reloaded) {
  std::map<std::string, std::string> t1 = {{"u1", "eu"}, {"u2", "us"}, {"u3", "us"}};
  std::map<std::pair<std::string, int64_t>, int64_t> out;
  for (int i = 0; i < kPhase1 + kPhase3; ++i) {
    auto table = t1;
    if (i >= kPhase1 && reloaded) table["u5"] = "sa";
    auto it = table.find(user_of(i));
    if (it == table.end()) continue;  // inner join: dropped
    ++out[{it->second, time_of(i) - time_of(i) % kWindowMs}];
  }
  return out;
}

std::string describe(const std::map<std::pair<std::string, int64_t>, int64_t>& m) {
  std::ostringstream s;
  for (const auto& [w, n] : m) s << w.first << "@" << w.second << "=" << n << " ";
  return s.str();
}

}  // namespace

TEST_CASE("enriched-clicks loads its table from a compacted topic and reloads it after a restart", "[pipeline][join]") {
  const Outcome o = run_world(11, /*crash_after_change=*/true);
  INFO("problems: " << o.problems.size() << (o.problems.empty() ? "" : " first: " + o.problems[0]));
  INFO("got:      " << describe(o.counts));
  INFO("expected: " << describe(expected(true)));
  REQUIRE(o.done);
  REQUIRE(o.problems.empty());
  REQUIRE(o.phase1_seen == kPhase1);  // phase 1 ran on the first load of the table
  REQUIRE(o.counts == expected(true));
  REQUIRE(o.counts.count({"sa", time_of(kPhase1) - time_of(kPhase1) % kWindowMs}));
}

TEST_CASE("without a restart the running instance keeps the table it loaded", "[pipeline][join]") {
  const Outcome o = run_world(12, /*crash_after_change=*/false);
  INFO("got:      " << describe(o.counts));
  INFO("expected: " << describe(expected(false)));
  REQUIRE(o.done);
  REQUIRE(o.problems.empty());
  REQUIRE(o.counts == expected(false));
}
