// End-to-end on the simulated cluster: the simulated client produces and
// consumes through brokers that replicate, fail and elect leaders.
#include <catch2/catch.hpp>

#include "../support/test_support.h"

#include <streamsim/kafka/partitioner.h>
#include <streamsim/sim/kafka/client.h>
#include <streamsim/sim/kafka/cluster.h>

#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <map>
#include <set>

using namespace streamsim;
using namespace streamsim::sim;
namespace k = streamsim::kafka;
using streamsim::sim::kafka::Cluster;
using streamsim::sim::kafka::ClusterConfig;
using streamsim::sim::kafka::SimKafka;
using streamsim::sim::kafka::TopicState;

namespace {

ClusterConfig three_brokers(int32_t min_isr, bool unclean) {
  ClusterConfig c;
  c.brokers = 3;
  TopicState t;
  t.name = "t";
  t.partitions = 3;
  t.replication = 3;
  t.min_insync_replicas = min_isr;
  t.unclean_leader_election = unclean;
  c.topics.push_back(t);
  return c;
}

struct Observed {
  std::map<std::string, std::pair<int32_t, int64_t>> acked;  // value -> (partition, offset)
  int failed = 0;
  std::map<int32_t, std::vector<std::pair<int64_t, std::string>>> read;  // partition -> (offset, value)
  std::string error;
  bool done = false;
};

}  // namespace

TEST_CASE("kafka sim: produce and consume through three replicating brokers", "[kafka_cluster]") {
  Observed o;
  std::vector<k::DeliveryReport> reports;
  Simulation sim(11, streamsim::testing::quiet_config());
  Cluster cluster(sim, three_brokers(2, false));
  sim.add_node("client", [&](SimRuntime& rt) {
    SimKafka kafka(rt);
    auto pc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"enable.idempotence", "true"}, {"linger.ms", "2"}});
    REQUIRE(pc.ok());
    auto producer = std::move(*kafka.producer(*pc));
    for (int i = 0; i < 300; ++i) {
      k::ProducerRecord r;
      r.topic = "t";
      r.key = "k" + std::to_string(i % 37);
      r.value = "v" + std::to_string(i);
      REQUIRE(producer->produce(r).ok());
    }
    auto f = producer->flush(Duration::seconds(60));
    if (!f.ok()) o.error = f.error().message;
    reports = producer->poll(Duration::zero());
    auto cc = k::Config::make(k::Role::consumer, {{"bootstrap.servers", cluster.bootstrap_servers()}});
    REQUIRE(cc.ok());
    auto consumer = std::move(*kafka.consumer(*cc));
    std::vector<k::TopicPartitionOffset> parts;
    for (int p = 0; p < 3; ++p) parts.push_back({{"t", p}, k::KafkaOffset::beginning(), std::nullopt});
    REQUIRE(consumer->assign(parts).ok());
    size_t total = 0;
    for (int round = 0; round < 100 && total < 300; ++round) {
      auto recs = consumer->poll(Duration::millis(200), 1000);
      if (!recs.ok()) continue;
      for (auto& r : *recs) {
        o.read[r.tp.partition].push_back({r.offset.value, r.value.value_or("")});
        ++total;
      }
    }
    o.done = true;
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(300));
  INFO(o.error);
  REQUIRE(o.done);
  REQUIRE(reports.size() == 300);
  Rng unused(1);
  std::map<int32_t, int64_t> last;
  for (const auto& d : reports) {
    REQUIRE_FALSE(d.error.has_value());
    // Offsets grow per partition in produce order (one request in flight).
    if (last.count(d.tp.partition)) REQUIRE(d.offset.value > last[d.tp.partition]);
    last[d.tp.partition] = d.offset.value;
  }
  size_t total = 0;
  for (auto& [p, recs] : o.read) {
    for (size_t i = 0; i < recs.size(); ++i) {
      REQUIRE(recs[i].first == static_cast<int64_t>(i));  // contiguous from 0
      // The key decided the partition exactly as librdkafka's default does.
      int idx = std::stoi(recs[i].second.substr(1));
      std::string key = "k" + std::to_string(idx % 37);
      REQUIRE(k::partition_for(k::Partitioner::consistent_random, std::string_view(key), 3, unused) == p);
    }
    total += recs.size();
  }
  REQUIRE(total == 300);
}

TEST_CASE("kafka sim: acks=all survives a leader crash without loss or duplicates", "[kafka_cluster]") {
  std::vector<k::DeliveryReport> reports;
  std::map<std::string, int> seen;
  bool done = false;
  std::string error;
  Simulation sim(12, streamsim::testing::quiet_config());
  Cluster cluster(sim, three_brokers(2, false));
  sim.add_node("nemesis", [&](SimRuntime& rt) {
    rt.sleep_for(Duration::millis(400));
    sim.crash(cluster.broker_node(0));
    rt.sleep_for(Duration::seconds(3));
    sim.restart(cluster.broker_node(0));
  });
  sim.add_node("client", [&](SimRuntime& rt) {
    SimKafka kafka(rt);
    auto pc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"enable.idempotence", "true"}, {"linger.ms", "1"},
                                                   {"request.timeout.ms", "500"}});
    auto producer = std::move(*kafka.producer(*pc));
    for (int i = 0; i < 400; ++i) {
      k::ProducerRecord r;
      r.topic = "t";
      r.key = "k" + std::to_string(i);
      r.value = "v" + std::to_string(i);
      if (!producer->produce(r).ok()) error = "produce refused";
      rt.sleep_for(Duration::millis(5));
    }
    auto f = producer->flush(Duration::seconds(60));
    if (!f.ok()) error = f.error().message;
    reports = producer->poll(Duration::zero());
    rt.sleep_for(Duration::seconds(5));  // let the restarted broker catch up
    auto cc = k::Config::make(k::Role::consumer, {{"bootstrap.servers", cluster.bootstrap_servers()}});
    auto consumer = std::move(*kafka.consumer(*cc));
    std::vector<k::TopicPartitionOffset> parts;
    for (int p = 0; p < 3; ++p) parts.push_back({{"t", p}, k::KafkaOffset::beginning(), std::nullopt});
    (void)consumer->assign(parts);
    size_t total = 0;
    for (int round = 0; round < 200 && total < reports.size(); ++round) {
      auto recs = consumer->poll(Duration::millis(200), 1000);
      if (!recs.ok()) continue;
      for (auto& r : *recs) {
        ++seen[r.value.value_or("")];
        ++total;
      }
    }
    done = true;
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(600));
  INFO(error);
  REQUIRE(done);
  REQUIRE(reports.size() == 400);
  int acked = 0;
  for (const auto& d : reports) {
    if (d.error) continue;
    ++acked;
  }
  REQUIRE(acked == 400);  // retries carried every record through the failover
  REQUIRE(seen.size() == 400);
  for (auto& [v, n] : seen) {
    INFO(v);
    REQUIRE(n == 1);  // idempotence: no duplicates from retries
  }
}

// Messages produced before the producer knows any metadata wait in one FIFO;
// when metadata arrives, those of a known topic are partitioned in produce
// order and those of an unknown topic stay, in order, until message.timeout.ms
// fails them with UNKNOWN_TOPIC_OR_PARTITION. (The FIFO is rebuilt, not erased
// from, so this pins both outcomes and the order of each.)
TEST_CASE("kafka sim: messages for an unknown topic time out while those for a known topic are delivered in order",
          "[kafka_cluster]") {
  std::vector<k::DeliveryReport> reports;
  bool done = false;
  Simulation sim(12, streamsim::testing::quiet_config());
  Cluster cluster(sim, three_brokers(2, false));
  sim.add_node("client", [&](SimRuntime& rt) {
    SimKafka kafka(rt);
    auto pc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"enable.idempotence", "true"},
                                                   {"linger.ms", "2"},
                                                   {"message.timeout.ms", "3000"}});
    REQUIRE(pc.ok());
    auto producer = std::move(*kafka.producer(*pc));
    for (int i = 0; i < 200; ++i) {
      k::ProducerRecord r;
      r.topic = i % 3 == 0 ? "missing" : "t";
      r.key = "same-key";  // one partition, so offsets order the known topic's messages
      r.value = std::to_string(i);
      r.opaque = static_cast<uint64_t>(i);
      REQUIRE(producer->produce(r).ok());
    }
    (void)producer->flush(Duration::seconds(30));
    reports = producer->poll(Duration::zero());
    done = true;
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(120));
  REQUIRE(done);
  REQUIRE(reports.size() == 200);
  std::vector<uint64_t> delivered, failed;
  int64_t last_offset = -1;
  for (const auto& d : reports) {
    if (d.opaque % 3 == 0) {
      REQUIRE(d.error.has_value());
      CHECK(d.error->code == k::Errc::unknown_topic_or_partition);
      failed.push_back(d.opaque);
    } else {
      REQUIRE_FALSE(d.error.has_value());
      REQUIRE(d.offset.value > last_offset);  // produce order is offset order
      last_offset = d.offset.value;
      delivered.push_back(d.opaque);
    }
  }
  CHECK(failed.size() == 67);
  CHECK(delivered.size() == 133);
  CHECK(std::is_sorted(delivered.begin(), delivered.end()));
  CHECK(std::is_sorted(failed.begin(), failed.end()));
}

// The producer cuts a partition's queue into batches of batch.num.messages
// (crossing the queue's internal chunks), and lingers small ones: a burst of
// many batches with a partial tail, then trickles, must all arrive once, in
// produce order, with their own keys and values.
TEST_CASE("kafka sim: batches cut at batch.num.messages and lingered small batches keep every record in produce order",
          "[kafka_cluster]") {
  std::vector<k::DeliveryReport> reports;
  std::vector<std::pair<int64_t, std::string>> read;  // (offset, key + value)
  bool done = false;
  Simulation sim(13, streamsim::testing::quiet_config());
  Cluster cluster(sim, three_brokers(2, false));
  sim.add_node("client", [&](SimRuntime& rt) {
    SimKafka kafka(rt);
    auto pc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"enable.idempotence", "true"},
                                                   {"linger.ms", "5"},
                                                   {"batch.num.messages", "100"}});
    REQUIRE(pc.ok());
    auto producer = std::move(*kafka.producer(*pc));
    int n = 0;
    auto send = [&](int count) {
      for (int i = 0; i < count; ++i, ++n) {
        k::ProducerRecord r;
        r.topic = "t";
        r.partition = 1;  // one partition: its offsets order everything
        r.key = "k" + std::to_string(n);
        r.value = std::string(static_cast<size_t>(n % 50), 'x') + std::to_string(n);
        r.opaque = static_cast<uint64_t>(n);
        REQUIRE(producer->produce(std::move(r)).ok());
      }
    };
    send(1037);  // ten full batches and a partial one
    for (int round = 0; round < 5; ++round) {
      rt.sleep_for(Duration::millis(20));
      send(3 + round);  // small lingered batches
    }
    send(250);
    REQUIRE(producer->flush(Duration::seconds(60)).ok());
    reports = producer->poll(Duration::zero());
    auto cc = k::Config::make(k::Role::consumer, {{"bootstrap.servers", cluster.bootstrap_servers()}});
    REQUIRE(cc.ok());
    auto consumer = std::move(*kafka.consumer(*cc));
    REQUIRE(consumer->assign({{{"t", 1}, k::KafkaOffset::beginning(), std::nullopt}}).ok());
    for (int round = 0; round < 100 && read.size() < reports.size(); ++round) {
      auto recs = consumer->poll(Duration::millis(200), 500);
      if (!recs.ok()) continue;
      for (auto& r : *recs) read.push_back({r.offset.value, r.key.value_or("") + "=" + r.value.value_or("")});
    }
    done = true;
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + Duration::seconds(300));
  REQUIRE(done);
  const size_t total = 1037 + 3 + 4 + 5 + 6 + 7 + 250;
  REQUIRE(reports.size() == total);
  for (size_t i = 0; i < reports.size(); ++i) {
    REQUIRE_FALSE(reports[i].error.has_value());
    REQUIRE(reports[i].opaque == i);  // reports in produce order
    REQUIRE(reports[i].offset.value == static_cast<int64_t>(i));
  }
  REQUIRE(read.size() == total);
  for (size_t i = 0; i < read.size(); ++i) {
    REQUIRE(read[i].first == static_cast<int64_t>(i));
    REQUIRE(read[i].second == "k" + std::to_string(i) + "=" + std::string(i % 50, 'x') + std::to_string(i));
  }
}
