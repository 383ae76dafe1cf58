// `streamsim bench nexmark`: Nexmark queries (bench/nexmark/nexmark.h) on the
// streaming engine.
//
// In memory (the engine's own cost): events are generated batch by batch
// (10,000 events = 1 s of event time per micro-batch, untimed) and fed to a
// Query over one partition; only Query::run_batch and the release of its
// output are timed; the sink counts the rows. Peak RSS is the process's high
// water mark, reset before each query (/proc/self/clear_refs), so it covers one
// query's state, one batch of input and one batch of output (plus whatever the
// process held before: start_rss_bytes; run one query per process for the
// cleanest reading).
//
// On the simulated Kafka cluster (q0 and q1 by default): a load generator
// produces the events into a 3-partition topic of a 3-broker cluster while one
// EngineInstance (exactly-once) runs the query; reported as input events per
// wall-clock second of the whole simulated run (produce, engine, commits).
// Numbers only; never asserted.
#include <streamsim/harness/bench.h>

#include "nexmark/nexmark.h"
#include "proc_status.h"

#include <streamsim/engine/instance.h>
#include <streamsim/engine/query.h>
#include <streamsim/sim/kafka/client.h>
#include <streamsim/sim/kafka/cluster.h>

#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <malloc.h>
#include <memory>
#include <string>
#include <vector>

namespace streamsim::bench {

namespace {

namespace e = streamsim::engine;
namespace k = streamsim::kafka;
namespace sk = streamsim::sim::kafka;
namespace nx = streamsim::nexmark;
using Clock = std::chrono::steady_clock;

constexpr int64_t kBatchEvents = 10'000;

// Returns freed heap memory to the OS (an earlier query's state, a simulated
// run), then resets VmHWM to the current RSS (writing 5, Linux >= 4.0), so the
// next peak is this query's own. Returns the RSS it starts from.
uint64_t reset_peak_rss() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
  return proc_status_bytes("VmRSS:");
}

struct MemResult {
  uint64_t events = 0, rows_out = 0, max_state_entries = 0, peak_rss_bytes = 0, start_rss_bytes = 0;
  double engine_s = 0, wall_s = 0;
  double events_per_s() const { return engine_s > 0 ? static_cast<double>(events) / engine_s : 0; }
};

MemResult run_in_memory(nx::QueryId q, uint64_t events) {
  MemResult res;
  const nx::QueryConfig qc;
  auto p = nx::pipeline(q, qc);
  if (!p.ok()) {
    std::fprintf(stderr, "nexmark %s: %s\n", nx::to_string(q), p.error().format().c_str());
    std::exit(1);
  }
  const nx::Generator gen;
  res.start_rss_bytes = reset_peak_rss();
  const auto wall0 = Clock::now();
  e::EngineOptions opts;
  opts.limits.max_state_entries = 10'000'000;
  e::Query query = e::Query::create(*p, {0}, Instant::epoch(), opts);
  Clock::duration engine{};
  Instant now = Instant::epoch();
  int64_t n = 0;
  const auto total = static_cast<int64_t>(events);
  e::MicroBatch batch;
  while (n < total || batch.watermark_floor != e::Watermark::max()) {
    batch.records.clear();
    auto& recs = batch.records[0];
    const int64_t end = std::min(total, n + kBatchEvents);
    recs.reserve(static_cast<size_t>(end - n));
    for (; n < end; ++n) recs.push_back(nx::record(gen, n, qc.source, 0, n));
    // After the last event, one empty batch at end of input closes every window.
    if (recs.empty()) batch.watermark_floor = e::Watermark::max();
    now = now + Duration::seconds(1);
    batch.processing_time = now;
    const auto t0 = Clock::now();
    {
      auto out = query.run_batch(batch);
      if (!out.ok()) {
        std::fprintf(stderr, "nexmark %s: batch failed: %s\n", nx::to_string(q), out.error().format().c_str());
        std::exit(1);
      }
      for (const auto& [part, t] : out->tasks) res.rows_out += t.rows.size();
    }
    engine += Clock::now() - t0;
    res.max_state_entries = std::max<uint64_t>(res.max_state_entries, query.metrics().state_entries);
  }
  res.events = events;
  res.engine_s = std::chrono::duration<double>(engine).count();
  res.wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
  res.peak_rss_bytes = proc_status_bytes("VmHWM:");
  return res;
}

struct SimResult {
  uint64_t events = 0, records_in = 0, rows_out = 0, commits = 0;
  double wall_s = 0, sim_seconds = 0;
  std::string error;
  double events_per_s() const { return wall_s > 0 ? static_cast<double>(records_in) / wall_s : 0; }
};

SimResult run_sim(nx::QueryId q, uint64_t events) {
  SimResult res;
  res.events = events;
  constexpr int32_t kPartitions = 3;
  nx::QueryConfig qc;
  auto p = nx::pipeline(q, qc);
  if (!p.ok()) {
    res.error = p.error().format();
    return res;
  }
  sim::SimulationConfig cfg;
  cfg.log_level = "off";
  cfg.log_sink = std::make_shared<spdlog::sinks::null_sink_st>();
  cfg.limits.max_steps = UINT64_MAX / 2;
  sim::Simulation s(1, cfg);
  sk::ClusterConfig cc;
  cc.brokers = 3;
  const std::string dlq = "nexmark-dlq";
  for (const std::string& name : {qc.source, qc.sink, dlq}) {
    sk::TopicState t;
    t.name = name;
    t.partitions = name == dlq ? 1 : kPartitions;
    t.replication = 3;
    t.min_insync_replicas = 2;
    cc.topics.push_back(t);
  }
  sk::Cluster cluster(s, cc);
  e::EngineInstance* instance = nullptr;
  s.add_node("loadgen", [&](sim::SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(1));
    sk::SimKafka kafka(rt);
    auto pc = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                   {"acks", "all"}, {"enable.idempotence", "true"},
                                                   {"linger.ms", "5"}, {"queue.buffering.max.messages", "10000000"}});
    auto producer = std::move(*kafka.producer(*pc));
    const nx::Generator gen;
    for (uint64_t n = 0; n < events; ++n) {
      e::InputRecord in = nx::record(gen, static_cast<int64_t>(n), qc.source, 0, 0);
      k::ProducerRecord r;
      r.topic = qc.source;
      r.partition = static_cast<int32_t>(n % kPartitions);
      r.value = std::move(in.value);
      r.timestamp_ms = in.timestamp_ms;
      (void)producer->produce(std::move(r));
      // Chunks of one batch, so the engine consumes while the load is produced.
      if ((n + 1) % kBatchEvents == 0) {
        (void)producer->flush(Duration::seconds(600));
        (void)producer->poll(Duration::zero());
      }
    }
    (void)producer->flush(Duration::seconds(600));
    (void)producer->poll(Duration::zero());
  });
  s.add_node("engine", [&](sim::SimRuntime& rt) {
    rt.sleep_for(Duration::seconds(1));
    sk::SimKafka kafka(rt);
    e::InstanceConfig ic;
    ic.application_id = "nexmark";
    ic.bootstrap_servers = cluster.bootstrap_servers();
    ic.trigger_interval = Duration::millis(200);
    ic.max_records_per_batch = static_cast<size_t>(kBatchEvents);
    ic.dead_letter_topic = dlq;
    ic.kafka_timeout = Duration::seconds(10);
    ic.producer_properties = {{"transaction.timeout.ms", "60000"}};
    auto inst = e::EngineInstance::create(rt, kafka, *p, ic);
    if (!inst.ok()) {
      res.error = inst.error().format();
      s.kernel().request_stop();
      return;
    }
    instance = inst->get();
    auto r = (*inst)->run();
    instance = nullptr;
    if (!r.ok()) res.error = r.error().format();
  });
  s.add_node("monitor", [&](sim::SimRuntime& rt) {
    // Done when every event was ingested and the batch that took the last
    // ones has committed (one more trigger interval).
    for (;;) {
      rt.sleep_for(Duration::millis(100));
      if (!res.error.empty()) break;
      if (instance && instance->stats().records_in >= events) {
        rt.sleep_for(Duration::seconds(1));
        break;
      }
    }
    if (instance) {
      res.records_in = instance->stats().records_in;
      res.rows_out = instance->stats().rows_out;
      res.commits = instance->stats().commits;
    }
    res.sim_seconds = static_cast<double>(rt.now().ns()) / 1e9;
    s.kernel().request_stop();
  });
  const auto t0 = Clock::now();
  s.run();
  res.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

}  // namespace

int nexmark(bool json, const std::string& query, uint64_t events, std::optional<uint64_t> sim_events) {
  std::vector<nx::QueryId> queries;
  if (query == "all") {
    queries.assign(std::begin(nx::kAllQueries), std::end(nx::kAllQueries));
  } else if (auto q = nx::parse_query(query)) {
    queries.push_back(*q);
  } else {
    std::fprintf(stderr, "streamsim: bench nexmark: unknown query '%s' (q0, q1, q2, q5, q7, all)\n", query.c_str());
    return 2;
  }
  if (!json)
    std::printf("nexmark: %llu events per query, in memory, one partition, %lld events per batch\n",
                static_cast<unsigned long long>(events), static_cast<long long>(kBatchEvents));
  for (nx::QueryId q : queries) {
    const MemResult m = run_in_memory(q, events);
    const uint64_t n_sim = sim_events.value_or(q == nx::QueryId::q0 || q == nx::QueryId::q1 ? 200'000 : 0);
    std::optional<SimResult> sim;
    if (n_sim > 0) sim = run_sim(q, n_sim);
    if (json) {
      std::printf("{\"query\":\"%s\",\"events\":%llu,\"events_per_s\":%.0f,\"engine_seconds\":%.3f,"
                  "\"wall_seconds\":%.3f,\"rows_out\":%llu,\"max_state_entries\":%llu,\"peak_rss_bytes\":%llu,"
                  "\"start_rss_bytes\":%llu",
                  nx::to_string(q), static_cast<unsigned long long>(m.events), m.events_per_s(), m.engine_s,
                  m.wall_s, static_cast<unsigned long long>(m.rows_out),
                  static_cast<unsigned long long>(m.max_state_entries),
                  static_cast<unsigned long long>(m.peak_rss_bytes),
                  static_cast<unsigned long long>(m.start_rss_bytes));
      if (sim)
        std::printf(",\"sim_events\":%llu,\"sim_events_per_wall_s\":%.0f,\"sim_wall_seconds\":%.3f,"
                    "\"sim_virtual_seconds\":%.3f,\"sim_records_in\":%llu,\"sim_rows_out\":%llu,\"sim_commits\":%llu%s",
                    static_cast<unsigned long long>(sim->events), sim->events_per_s(), sim->wall_s, sim->sim_seconds,
                    static_cast<unsigned long long>(sim->records_in), static_cast<unsigned long long>(sim->rows_out),
                    static_cast<unsigned long long>(sim->commits),
                    sim->error.empty() ? "" : (",\"sim_error\":\"" + sim->error + "\"").c_str());
      std::printf("}\n");
    } else {
      std::printf("  %s  in memory %10.0f events/s (%.2fs engine, %.2fs wall), rows out %llu, max state %llu, "
                  "peak RSS %.0f MiB\n",
                  nx::to_string(q), m.events_per_s(), m.engine_s, m.wall_s,
                  static_cast<unsigned long long>(m.rows_out), static_cast<unsigned long long>(m.max_state_entries),
                  static_cast<double>(m.peak_rss_bytes) / 1048576.0);
      if (sim)
        std::printf("      simulated Kafka %10.0f events/wall s (%llu/%llu events in, %.2fs wall, %.1fs simulated, "
                    "%llu commits)%s%s\n",
                    sim->events_per_s(), static_cast<unsigned long long>(sim->records_in),
                    static_cast<unsigned long long>(sim->events), sim->wall_s, sim->sim_seconds,
                    static_cast<unsigned long long>(sim->commits), sim->error.empty() ? "" : " error: ",
                    sim->error.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace streamsim::bench
