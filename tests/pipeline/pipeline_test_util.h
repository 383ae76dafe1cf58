// Shared pieces of the end-to-end pipeline tests (an engine on the simulated
// cluster): the cluster they run on, reading a topic back with read_committed,
// and header lookup. Test-only; each test keeps its own workload and verdict.
#pragma once

#include <streamsim/kafka.h>
#include <streamsim/sim/kafka/cluster.h>
#include <streamsim/sim/kafka/client.h>
#include <streamsim/sim/simulation.h>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::testing::pipeline {

// Three brokers; every topic replicated 3 times with min ISR 2, so one broker
// may be down without stopping acks=all writers.
inline sim::kafka::ClusterConfig cluster_config(const std::vector<std::pair<std::string, int32_t>>& topics) {
  REQUIRE(!topics.empty());
  sim::kafka::ClusterConfig c;
  c.brokers = 3;
  for (const auto& [name, parts] : topics) {
    REQUIRE(parts > 0);
    sim::kafka::TopicState t;
    t.name = name;
    t.partitions = parts;
    t.replication = 3;
    t.min_insync_replicas = 2;
    c.topics.push_back(t);
  }
  return c;
}

inline std::optional<std::string> header_of(const kafka::ConsumerRecord& r, const std::string& name) {
  for (const auto& h : r.headers)
    if (h.key == name) return h.value;
  return std::nullopt;
}

// Reads every committed record of `topic` until 3 s of simulated time pass
// without one (bounded: at most 2,000 polls). Suspends the calling task.
inline std::vector<kafka::ConsumerRecord> read_committed(sim::SimRuntime& rt, sim::kafka::SimKafka& kafka,
                                                         const sim::kafka::Cluster& cluster, const std::string& topic,
                                                         int32_t partitions) {
  auto cfg = kafka::Config::make(kafka::Role::consumer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                         {"isolation.level", "read_committed"}});
  REQUIRE(cfg.ok());
  auto c = std::move(*kafka.consumer(*cfg));
  std::vector<kafka::TopicPartitionOffset> parts;
  for (int32_t p = 0; p < partitions; ++p) parts.push_back({{topic, p}, kafka::KafkaOffset::beginning(), std::nullopt});
  (void)c->assign(parts);
  std::vector<kafka::ConsumerRecord> out;
  Instant last = rt.now();
  for (int round = 0; round < 2'000 && rt.now() - last < Duration::seconds(3); ++round) {
    auto got = c->poll(Duration::millis(100), 1'000);
    if (!got.ok() || got->empty()) continue;
    out.insert(out.end(), got->begin(), got->end());
    last = rt.now();
  }
  return out;
}

}  // namespace streamsim::testing::pipeline
