// `streamsim live` (include/streamsim/harness/live_run.h): the scenario's
// PipelineWorkload on a live runtime and librdkafka, the mock cluster's fault
// hooks, status lines, and the same checkers as in simulation.
//
// This file reads no clock itself: every wait and timestamp goes through the
// LiveRuntime (live/), which owns the real clock.
#include <streamsim/harness/live_run.h>

#include <streamsim/core/assert.h>
#include <streamsim/engine/instance.h>
#include <streamsim/kafka/config.h>
#include <streamsim/live/kafka_client.h>
#include <streamsim/live/live_runtime.h>
#include <streamsim/live/mock_cluster.h>
#include <streamsim/live/txn_ledger.h>
#include <streamsim/scenarios/pipeline.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

namespace streamsim::harness {

namespace {

namespace k = streamsim::kafka;
using scenarios::PipelineWorkload;
using scenarios::PropertyResult;

template <class T>
T or_default(T v, T d) {
  return v ? v : d;
}

// Replaces every secret value of `props` in text with [redacted].
std::string scrub(std::string text, const std::vector<std::pair<std::string, std::string>>& props) {
  for (const auto& [name, value] : props) {
    if (!k::is_secret(name) || value.empty()) continue;
    for (size_t at = text.find(value); at != std::string::npos; at = text.find(value, at))
      text.replace(at, value.size(), "[redacted]");
  }
  return text;
}

// Every client of the run gets the run's extra properties (SASL, SSL, ...)
// before its own, so the pipeline's settings (bootstrap, transactional.id,
// isolation.level, ...) are the ones the engine checks.
class ConfiguredKafka final : public k::Kafka {
 public:
  ConfiguredKafka(k::Kafka& inner, std::vector<std::pair<std::string, std::string>> extra)
      : inner_(inner), extra_(std::move(extra)) {}
  Result<std::unique_ptr<k::Producer>, k::Error> producer(const k::Config& c) override {
    auto m = merge(c);
    if (!m.ok()) return unexpected(m.error());
    return inner_.producer(*m);
  }
  Result<std::unique_ptr<k::Consumer>, k::Error> consumer(const k::Config& c) override {
    auto m = merge(c);
    if (!m.ok()) return unexpected(m.error());
    return inner_.consumer(*m);
  }
  Result<std::unique_ptr<k::Admin>, k::Error> admin(const k::Config& c) override {
    auto m = merge(c);
    if (!m.ok()) return unexpected(m.error());
    return inner_.admin(*m);
  }

 private:
  Result<k::Config, k::Error> merge(const k::Config& c) const {
    std::vector<std::pair<std::string, std::string>> props = extra_;
    for (const auto& kv : c.explicit_values()) props.push_back(kv);
    auto r = k::Config::make(c.role(), props);
    if (!r.ok()) return unexpected(k::Error{k::Errc::local_invalid_arg, scrub(r.error().format(), props)});
    return *r;
  }
  k::Kafka& inner_;
  std::vector<std::pair<std::string, std::string>> extra_;
};

std::string fmt(const char* f, double a) {
  char b[64];
  std::snprintf(b, sizeof b, f, a);
  return b;
}

double seconds(Duration d) { return static_cast<double>(d.ns()) / 1e9; }

std::optional<double> metric(const RunReport& r, const std::string& name) {
  for (const auto& [n, v] : r.metrics)
    if (n == name) return v;
  return std::nullopt;
}

}  // namespace

bool live_fault_delegable(proto::FaultKind kind) {
  switch (kind) {
    case proto::CRASH:
    case proto::PAUSE:
    case proto::ISOLATE:
    case proto::LATENCY_SPIKE:
    case proto::SLOW_NODE:
    case proto::CLOG:
    case proto::PACKET_LOSS:
    case proto::LEADER_MOVE:
      return true;
    default:
      return false;
  }
}

std::optional<std::string> live_fault_unsupported(proto::FaultKind kind, bool mock, bool delegated) {
  if (kind == proto::ENGINE_CRASH) return std::nullopt;  // in-process on any cluster
  // One list of broker faults: those the mock injects, or an operator command runs.
  if (live_fault_delegable(kind)) {
    if (mock || delegated) return std::nullopt;
    return std::string("no operator command for it against a real cluster (give one with --fault-command " +
                       proto::FaultKind_Name(kind) + "=CMD)");
  }
  switch (kind) {
    case proto::CRASH_WIPE:
      return std::string("the mock cluster cannot lose a broker's disk (it has no replication to recover from)");
    case proto::PARTITION:
    case proto::ONE_WAY_PARTITION:
    case proto::PARTITION_HALVES:
    case proto::ISOLATE_LEADER:
      return std::string("no network between brokers to cut: the mock cluster is one process without replication");
    case proto::CONTROLLER_FAILOVER:
      return std::string("the mock cluster has no controller");
    case proto::FSYNC_STALL:
      return std::string("the mock cluster has no disk");
    case proto::ZOMBIE_ENGINE:
    case proto::ISOLATE_ENGINE:
      return std::string("not implemented live: would need pausing or cutting off one instance's clients");
    case proto::ENGINE_SCALE:
      return std::string("not implemented live: spare instances are not started");
    default:
      return std::string("unknown fault kind");
  }
}

Result<LiveRunResult, LiveError> run_live(const proto::Scenario& s, const LiveRunOptions& opt) {
  auto say = [&](const std::string& line) {
    if (opt.print) opt.print(line);
  };
  if (s.workload_case() != proto::Scenario::kPipeline)
    return unexpected(LiveError{LiveErrc::usage, "live mode runs pipeline scenarios only (" + s.name() + " is not one)"});
  if (opt.bootstrap.empty() == (opt.mock_brokers <= 0))
    return unexpected(LiveError{LiveErrc::usage, "give exactly one of --bootstrap HOST:PORT and --mock-brokers N"});
  for (k::Role role : {k::Role::producer, k::Role::consumer, k::Role::admin}) {
    auto c = k::Config::make(role, opt.client_config);
    if (!c.ok())
      return unexpected(LiveError{LiveErrc::usage, "--config " + scrub(c.error().format(), opt.client_config)});
  }
  const bool mock = opt.mock_brokers > 0;
  SS_ASSERT(mock || opt.delegated_faults.empty() || opt.run_fault, "delegated faults need a run_fault callback");
  // Whether a kind has an operator command (real clusters only).
  auto delegated = [&](proto::FaultKind kind) { return !mock && opt.delegated_faults.count(kind) != 0; };

  LiveRunResult res;
  // The simulation's numbers for the same scenario (seed 1), for the
  // comparison line; first, as only one kernel may exist per thread.
  if (opt.compare_with_simulation) {
    RunOptions so;
    so.seed = 1;
    so.log_level = "off";
    RunReport sim = run_scenario(s, so);
    PipelinePerf sp;
    sp.throughput_events_per_s = metric(sim, "throughput_events_per_s").value_or(0);
    sp.latency_p50_ms = metric(sim, "latency_p50_ms").value_or(0);
    sp.latency_p99_ms = metric(sim, "latency_p99_ms").value_or(0);
    sp.latency_max_ms = metric(sim, "latency_max_ms").value_or(0);
    res.sim = sp;
  }
  std::unique_ptr<live::MockCluster> cluster;
  if (mock) {
    std::string why;
    auto mc = live::MockCluster::start(opt.mock_brokers, &why);
    if (!mc.ok()) return unexpected(LiveError{LiveErrc::connection, "cannot start the mock cluster: " + why});
    cluster.reset(*mc);
    res.bootstrap = cluster->bootstraps();
  } else {
    res.bootstrap = opt.bootstrap;
  }
  const int brokers = mock ? opt.mock_brokers : static_cast<int>(or_default<uint32_t>(s.pipeline().cluster().brokers(), 3));

  live::LiveOptions lo;
  lo.name = "live";
  lo.seed = opt.seed;
  lo.storage_dir = opt.storage_dir;
  lo.log_level = opt.log_level;
  live::LiveRuntime rt(lo);
  res.seed = rt.seed();
  // The mock needs transactions emulated (txn_ledger.h); a real cluster does not.
  auto ledger = mock ? std::make_shared<live::TxnLedger>() : nullptr;
  live::LiveKafka raw(rt, ledger);
  ConfiguredKafka kafka(raw, opt.client_config);

  PipelineWorkload w(s.pipeline(), s.run(), opt.topic_prefix);
  const auto layout = w.topic_layout(brokers);
  const Duration input_phase =
      opt.duration ? *opt.duration : Duration::millis(static_cast<int64_t>(or_default<uint64_t>(s.run().safety_ms(), 20'000)));

  // Faults: what maps, what is skipped.
  std::set<proto::FaultKind> kinds;
  for (const auto& f : s.faults().scripted()) kinds.insert(f.kind());
  for (int kd : s.faults().random().kinds()) kinds.insert(static_cast<proto::FaultKind>(kd));
  std::vector<proto::FaultKind> random_kinds;
  for (int kd : s.faults().random().kinds()) {
    const auto kind = static_cast<proto::FaultKind>(kd);
    if (!live_fault_unsupported(kind, mock, delegated(kind)) &&
        std::find(random_kinds.begin(), random_kinds.end(), kind) == random_kinds.end())
      random_kinds.push_back(kind);
  }
  for (proto::FaultKind kind : kinds)
    if (auto why = live_fault_unsupported(kind, mock, delegated(kind))) res.skipped_faults.push_back(proto::FaultKind_Name(kind) + ": " + *why);
  if (s.faults().buggify().enabled()) res.skipped_faults.push_back("BUGGIFY: fault points exist only in simulation");

  res.report.scenario = s.name();
  res.report.seed = res.seed;
  res.report.expect_violation = s.expect().expect_violation();
  {
    std::string d = mock ? "mock cluster, " + std::to_string(brokers) + " brokers" : "cluster " + res.bootstrap;
    d += "; faults:";
    if (kinds.empty()) d += " none";
    for (proto::FaultKind kind : kinds)
      d += " " + proto::FaultKind_Name(kind) + (live_fault_unsupported(kind, mock, delegated(kind)) ? "(skipped)" : "");
    res.report.faults = d;
  }
  say("seed: " + std::to_string(res.seed));
  say("cluster: " + (mock ? "mock, " + std::to_string(brokers) + " brokers at " + res.bootstrap : res.bootstrap));
  say("topics: " + w.source_topic() + ", " + w.sink_topic() + " (prefix " + opt.topic_prefix + ")");
  say("input phase: " + fmt("%.1fs", seconds(input_phase)));
  for (const auto& sk : res.skipped_faults) say("skipped fault " + sk);

  // ------------------------------------------------------------ the run ---
  std::optional<LiveError> failed;
  bool reader_done = false;
  std::map<uint32_t, TaskHandle> engines;
  std::map<uint32_t, uint32_t> restarts;
  const uint32_t instances = or_default<uint32_t>(s.pipeline().instances(), 1);
  const uint32_t producers = or_default<uint32_t>(s.pipeline().input().producers(), 1);
  std::vector<TaskHandle> producer_tasks;
  bool input_over = false;
  Instant input_end;
  std::vector<std::string>& fault_log = res.report.fault_log;
  uint64_t faults_started = 0;
  // Engine statistics survive their instances here, for status lines.
  std::map<const engine::EngineInstance*, engine::InstanceStats> seen_stats;
  auto stat_totals = [&] {
    for (const auto& [i, inst] : w.running_instances()) seen_stats[inst] = inst->stats();
    engine::InstanceStats t;
    for (const auto& [p, st] : seen_stats) {
      t.commits += st.commits;
      t.aborts += st.aborts;
      t.records_in += st.records_in;
      t.rows_out += st.rows_out;
      t.fenced += st.fenced;
      t.restores += st.restores;
    }
    return t;
  };
  // Each engine incarnation is a process of its own (a kernel group), so that
  // a crash unwinds its helper tasks before the instance, as in simulation.
  std::vector<std::unique_ptr<live::LiveProcess>> processes;
  std::map<uint32_t, live::LiveProcess*> engine_process;
  auto start_engine = [&](uint32_t i) {
    processes.push_back(rt.process("engine-" + std::to_string(i) + "#" + std::to_string(restarts[i] + 1)));
    live::LiveProcess* p = processes.back().get();
    engine_process[i] = p;
    engines[i] = p->spawn("main", [&w, &kafka, i, p] { w.engine_main(*p, kafka, i); });
  };
  std::unique_ptr<k::Admin> probe_admin;  // the engine-crash fault's view of the sink
  auto log_fault = [&](const std::string& what) {
    const std::string line = fmt("%.1fs ", seconds(rt.now() - Instant::epoch())) + what;
    fault_log.push_back(line);
    say("fault " + line);
  };

  // One fault of `kind` for `dur`; suspends for the fault's duration. Only
  // kinds live_fault_unsupported accepts reach here.
  auto inject = [&](proto::FaultKind kind, Duration dur, const proto::ScriptedFault* sf) {
    Rng& rng = rt.random();
    ++faults_started;
    int broker = 1 + static_cast<int>(rng.uniform(static_cast<uint64_t>(brokers)));
    // A scripted fault naming "broker-N" (simulation's node names, from 0)
    // hits mock broker N + 1.
    if (sf && sf->nodes_size() > 0 && sf->nodes(0).rfind("broker-", 0) == 0) {
      const std::string n = sf->nodes(0).substr(7);
      if (!n.empty() && n.size() < 4 && n.find_first_not_of("0123456789") == std::string::npos && std::stoi(n) < brokers)
        broker = std::stoi(n) + 1;
    }
    const std::string dur_text = fmt("%.0fms", static_cast<double>(dur.ns()) / 1e6);
    if (delegated(kind)) {
      // A real cluster: the operator's command carries the fault out.
      SS_ASSERT(live_fault_delegable(kind), "only broker faults are delegated");
      const std::string what = proto::FaultKind_Name(kind) + " broker " + std::to_string(broker);
      log_fault(what + " for " + dur_text + " (operator command)");
      if (!opt.run_fault(kind, "start", broker, dur)) log_fault(what + ": the start command failed");
      rt.sleep_for(dur);
      if (!opt.run_fault(kind, "stop", broker, dur)) log_fault(what + ": the stop command failed");
      log_fault(what + " healed (operator command)");
      return;
    }
    SS_ASSERT(mock || kind == proto::ENGINE_CRASH, "a real cluster injects only engine crashes itself");
    switch (kind) {
      case proto::CRASH:
      case proto::PAUSE:
      case proto::ISOLATE:
        log_fault(proto::FaultKind_Name(kind) + " broker " + std::to_string(broker) + " down for " + dur_text);
        cluster->set_broker_down(broker, true);
        rt.sleep_for(dur);
        cluster->set_broker_down(broker, false);
        log_fault("broker " + std::to_string(broker) + " up");
        return;
      case proto::LATENCY_SPIKE:
      case proto::SLOW_NODE:
      case proto::CLOG: {
        const int rtt = static_cast<int>(sf && sf->extra_latency_ms() ? sf->extra_latency_ms() : 300);
        log_fault(proto::FaultKind_Name(kind) + " broker " + std::to_string(broker) + " rtt " + std::to_string(rtt) +
                  "ms for " + dur_text);
        cluster->set_broker_rtt(broker, rtt);
        rt.sleep_for(dur);
        cluster->set_broker_rtt(broker, 0);
        return;
      }
      case proto::PACKET_LOSS: {
        // Retriable errors on the next Produce and Fetch requests: the clients
        // retry them, as after a lost connection.
        const int n = 1 + static_cast<int>(rng.uniform(3));
        log_fault("PACKET_LOSS: " + std::to_string(n) + " NOT_LEADER_FOR_PARTITION errors on Produce and on Fetch");
        cluster->push_request_errors(0, n, 6);
        cluster->push_request_errors(1, n, 6);
        rt.sleep_for(dur);
        return;
      }
      case proto::LEADER_MOVE: {
        const auto& t = layout[rng.uniform(2)];  // the source or the sink
        const int32_t p = static_cast<int32_t>(rng.uniform(static_cast<uint64_t>(t.partitions)));
        const bool ok = cluster->set_partition_leader(t.name, p, broker);
        const int coord = 1 + static_cast<int>(rng.uniform(static_cast<uint64_t>(brokers)));
        cluster->set_coordinator("group", w.application_id(), coord);
        for (int32_t q = 0; q < layout[0].partitions; ++q)
          cluster->set_coordinator("transaction", engine::transactional_id(w.application_id(), w.source_topic(), q), coord);
        log_fault("LEADER_MOVE " + t.name + "[" + std::to_string(p) + "] to broker " + std::to_string(broker) +
                  (ok ? "" : " (refused)") + "; group and transaction coordinators to broker " + std::to_string(coord));
        rt.sleep_for(dur);
        return;
      }
      case proto::ENGINE_CRASH: {
        if (engines.empty()) return;
        auto it = engines.begin();
        std::advance(it, static_cast<long>(rng.uniform(engines.size())));
        const uint32_t i = it->first;
        // Abandon the instance between a batch's produce and its commit, in a
        // batch that wrote output (the sink's high watermark grew while it
        // commits), when it gets there within 10 s (the window the canaries
        // target; a crash elsewhere often finds nothing to redo), else
        // wherever it is.
        auto running = [&]() -> engine::EngineInstance* {
          auto r = w.running_instances().find(i);
          return r == w.running_instances().end() ? nullptr : r->second;
        };
        auto sink_end = [&]() -> std::optional<int64_t> {
          if (!probe_admin) {
            auto c = k::Config::make(k::Role::admin, {{"bootstrap.servers", res.bootstrap}});
            auto a = kafka.admin(*c);
            if (!a.ok()) return std::nullopt;
            probe_admin = std::move(*a);
          }
          std::vector<k::TopicPartition> tps;
          for (int32_t q = 0; q < layout[1].partitions; ++q) tps.push_back({w.sink_topic(), q});
          auto r = probe_admin->list_offsets(tps, k::OffsetSpec::latest, false, Duration::seconds(1));
          if (!r.ok()) return std::nullopt;
          int64_t sum = 0;
          for (const auto& o : *r) {
            if (o.error || o.offset.is_logical()) return std::nullopt;
            sum += o.offset.value;
          }
          return sum;
        };
        const Instant until = rt.now() + Duration::seconds(10);
        std::optional<int64_t> base;
        bool output_in_flight = false;
        while (rt.now() < until) {
          engine::EngineInstance* inst = running();
          if (inst && inst->committing()) {
            auto end = sink_end();
            if (base && end && *end > *base && running() && running()->committing()) {
              output_in_flight = true;
              break;
            }
          } else {
            base = sink_end();
          }
          rt.sleep_for(Duration::millis(5));
        }
        const bool in_commit = running() && running()->committing();
        (void)output_in_flight;
        if (running()) seen_stats[running()] = running()->stats();
        engine_process.at(i)->crash();
        log_fault("ENGINE_CRASH engine-" + std::to_string(i) +
                  (output_in_flight && in_commit ? " between produce and commit, output written"
                   : in_commit                   ? " between produce and commit"
                                                 : "") +
                  "; restart in " + dur_text);
        rt.sleep_for(dur);
        ++restarts[i];
        start_engine(i);
        return;
      }
      default:
        SS_PANIC("a fault kind without a live mapping was scheduled");
    }
  };

  auto controller = [&] {
    // 1. Reach the cluster and create the topics.
    std::vector<std::pair<std::string, std::string>> aprops = {{"bootstrap.servers", res.bootstrap}};
    auto acfg = k::Config::make(k::Role::admin, aprops);
    SS_ASSERT(acfg.ok(), "the admin configuration is valid");
    auto admin = kafka.admin(*acfg);
    if (!admin.ok()) {
      failed = LiveError{LiveErrc::usage, "cannot create a client: " + admin.error().message};
      return;
    }
    auto info = (*admin)->describe_cluster(opt.connect_timeout);
    if (!info.ok()) {
      failed = LiveError{LiveErrc::connection, "cannot reach the cluster at " + res.bootstrap + " within " +
                                                   fmt("%.1fs", seconds(opt.connect_timeout)) + ": " +
                                                   info.error().message};
      return;
    }
    std::vector<PipelineWorkload::TopicLayout> topics = layout;
    // The engine creates its changelog through CreateTopics, which the mock
    // does not serve: create it here, with the source's partition count.
    topics.push_back({engine::changelog_topic(w.application_id()), layout[0].partitions,
                      static_cast<int16_t>(std::min(3, brokers)), std::min(2, std::min(3, brokers))});
    if (mock) {
      for (const auto& t : topics) {
        if (!cluster->create_topic(t.name, t.partitions, std::min<int>(t.replication, brokers)).ok()) {
          failed = LiveError{LiveErrc::connection, "the mock cluster refused to create topic " + t.name};
          return;
        }
      }
    } else {
      std::vector<k::TopicSpec> specs;
      for (const auto& t : topics) {
        k::TopicSpec sp;
        sp.name = t.name;
        sp.partitions = t.partitions;
        sp.replication = static_cast<int16_t>(std::min<int>(t.replication, brokers));
        sp.config["min.insync.replicas"] = std::to_string(std::min<int>(t.min_insync_replicas, sp.replication));
        specs.push_back(sp);
      }
      auto made = (*admin)->create_topics(specs, opt.connect_timeout);
      if (!made.ok()) {
        failed = LiveError{LiveErrc::connection, "cannot create the run's topics: " + made.error().message};
        return;
      }
      for (size_t i = 0; i < made->size(); ++i)
        if ((*made)[i] && (*made)[i]->code != k::Errc::topic_already_exists) {
          failed = LiveError{LiveErrc::connection, "cannot create topic " + specs[i].name + ": " + (*made)[i]->message};
          return;
        }
    }
    PipelineWorkload::External ext;
    ext.bootstrap = res.bootstrap;
    ext.brokers = brokers;
    ext.topics = layout;
    ext.on_final_read_done = [&] { reader_done = true; };
    // The mock checks sequence numbers only for transactional producers: an
    // idempotent one has messages acknowledged implicitly (IMPLICITACK, offset
    // -1001) that were never written (../shared/NOTES.md measured 83 to 4,824
    // of them in 4 of 11 fault runs). Plain acks=all producers lost none there;
    // a retry may write an event twice, which the checkers take as input.
    if (mock) ext.input_producer_overrides = {{"enable.idempotence", "false"}};
    w.attach(ext);

    // 2. The workload's tasks.
    for (uint32_t i = 0; i < producers; ++i)
      producer_tasks.push_back(rt.spawn("producer-" + std::to_string(i), [&, i] { w.producer_main(rt, kafka, i); }));
    for (uint32_t i = 0; i < instances; ++i) start_engine(i);
    TaskHandle reader = rt.spawn("final-reader", [&] { w.final_reader_main(rt, kafka); });

    // 3. Faults during the input phase.
    std::vector<TaskHandle> nemesis;
    for (const auto& f : s.faults().scripted()) {
      if (live_fault_unsupported(f.kind(), mock, delegated(f.kind()))) continue;
      nemesis.push_back(rt.spawn("fault", [&, f] {
        rt.sleep_until(Instant::epoch() + Duration::millis(static_cast<int64_t>(f.at_ms())));
        if (input_over) return;
        inject(f.kind(), Duration::millis(static_cast<int64_t>(or_default<uint64_t>(f.duration_ms(), 1000))), &f);
      }));
    }
    const auto& rf = s.faults().random();
    if (!random_kinds.empty()) {
      nemesis.push_back(rt.spawn("nemesis", [&] {
        Rng& rng = rt.random();
        const double mean = static_cast<double>(or_default<uint64_t>(rf.mean_interval_ms(), 5'000));
        const int64_t lo = static_cast<int64_t>(or_default<uint64_t>(rf.min_duration_ms(), 500));
        const int64_t hi = std::max<int64_t>(lo, static_cast<int64_t>(or_default<uint64_t>(rf.max_duration_ms(), 3'000)));
        for (;;) {
          rt.sleep_for(Duration::millis(static_cast<int64_t>(rng.exponential(mean))));
          if (input_over) return;
          const proto::FaultKind kind = random_kinds[rng.uniform(random_kinds.size())];
          inject(kind, Duration::millis(rng.uniform_int(lo, hi)), nullptr);
        }
      }));
    }

    // 4. Status lines.
    TaskHandle status = rt.spawn("status", [&] {
      std::vector<std::pair<std::string, std::string>> gprops = {
          {"bootstrap.servers", res.bootstrap}, {"group.id", w.application_id()}, {"enable.auto.commit", "false"}};
      auto gcfg = k::Config::make(k::Role::consumer, gprops);
      SS_ASSERT(gcfg.ok(), "the status consumer's configuration is valid");
      auto group = kafka.consumer(*gcfg);
      size_t last_sends = 0;
      Instant last = rt.now();
      while (!reader_done) {
        rt.sleep_for(opt.status_interval);
        if (reader_done) break;
        const auto& h = w.history();
        const engine::InstanceStats t = stat_totals();
        int64_t max_ts = 0;
        for (size_t i = last_sends; i < h.sends.size(); ++i) max_ts = std::max(max_ts, h.sends[i].event_time_ms);
        std::string wm_lag = "-";
        for (const auto& [i, inst] : w.running_instances()) {
          const auto wm = inst->watermark();
          if (!wm.is_min() && !wm.is_max() && max_ts > 0) wm_lag = fmt("%.1fs", static_cast<double>(max_ts - wm.ms()) / 1e3);
        }
        std::string lag = "-";
        if (group.ok()) {
          std::vector<k::TopicPartition> tps;
          for (int32_t p = 0; p < layout[0].partitions; ++p) tps.push_back({w.source_topic(), p});
          auto ends = (*admin)->list_offsets(tps, k::OffsetSpec::latest, false, Duration::seconds(1));
          auto comm = (*group)->committed(tps, Duration::seconds(1));
          if (ends.ok() && comm.ok()) {
            int64_t total = 0;
            for (size_t i = 0; i < ends->size() && i < comm->size(); ++i) {
              const int64_t end = (*ends)[i].offset.is_logical() ? 0 : (*ends)[i].offset.value;
              const int64_t at = (*comm)[i].offset.is_logical() ? 0 : (*comm)[i].offset.value;
              total += std::max<int64_t>(0, end - at);
            }
            lag = std::to_string(total);
          }
        }
        const double dt = seconds(rt.now() - last);
        const double rate = dt > 0 ? static_cast<double>(h.sends.size() - last_sends) / dt : 0;
        char line[400];
        std::snprintf(line, sizeof line,
                      "status %6.1fs %s: in %zu (%.0f/s) | engine in %" PRIu64 " out %" PRIu64
                      " | watermark lag %s | consumer lag %s | commits %" PRIu64 " aborts %" PRIu64
                      " | engine crashes %" PRIu64,
                      seconds(rt.now() - Instant::epoch()), input_over ? "draining" : "input", h.sends.size(), rate,
                      t.records_in, t.rows_out, wm_lag.c_str(), lag.c_str(), t.commits, t.aborts,
                      h.engine_crashes);
        say(line);
        last_sends = h.sends.size();
        last = rt.now();
      }
    });

    // 5. The input phase ends after its duration or on request (Ctrl-C).
    const Instant phase_end = rt.now() + input_phase;
    while (rt.now() < phase_end) {
      if (opt.stop_requested && opt.stop_requested()) {
        res.interrupted = true;
        say("interrupted: stopping the input and draining");
        break;
      }
      rt.sleep_for(Duration::millis(100));
    }
    input_over = true;
    input_end = rt.now();
    for (auto& n : nemesis) n.cancel();
    if (mock) {
      // Heal: every broker up, no added latency.
      for (int b = 1; b <= brokers; ++b) {
        cluster->set_broker_down(b, false);
        cluster->set_broker_rtt(b, 0);
      }
    }
    // An engine instance crashed by the nemesis that has not restarted yet.
    for (uint32_t i = 0; i < instances; ++i)
      if (engines[i].done() && !w.running_instances().count(i)) start_engine(i);
    w.begin_liveness_at(rt.now());
    say(fmt("input ended at %.1fs; draining", seconds(rt.now() - Instant::epoch())));
    reader.join();

    // 6. The mock's logs are capped (5 MiB / 100k batches per partition):
    // old data vanishing would look like a loss. Inconclusive instead.
    std::vector<k::TopicPartition> all;
    for (const auto& t : topics)
      for (int32_t p = 0; p < t.partitions; ++p) all.push_back({t.name, p});
    auto lows = (*admin)->list_offsets(all, k::OffsetSpec::earliest, false, Duration::seconds(5));
    if (lows.ok()) {
      for (const auto& o : *lows)
        if (!o.error && !o.offset.is_logical() && o.offset.value > 0) {
          res.inconclusive = o.tp.topic + "[" + std::to_string(o.tp.partition) + "] starts at offset " +
                             std::to_string(o.offset.value) + ": the cluster dropped old records (the mock keeps 5 MiB per partition)";
          break;
        }
    }
    (void)stat_totals();

    // 7. Stop the instances (they leave the group) and the helpers.
    for (const auto& [i, inst] : w.running_instances()) inst->request_stop();
    const Instant stop_by = rt.now() + Duration::seconds(10);
    for (auto& [i, h] : engines) {
      while (!h.done() && rt.now() < stop_by) rt.sleep_for(Duration::millis(20));
      if (!h.done()) engine_process.at(i)->crash();
    }
    for (auto& p : producer_tasks)
      if (!p.done()) p.cancel();
    status.cancel();
    // Every task ends before the clients' owners (the LiveKafka, the
    // workload) are destroyed after run() returns.
    for (auto& p : producer_tasks) p.join();
    for (auto& [i, h] : engines) h.join();
    for (auto& n : nemesis) n.join();
    status.join();
  };
  TaskHandle main_task = rt.spawn("controller", [&] {
    controller();
    rt.request_stop();
  });
  const sim::RunStop stop = rt.run();
  const std::string failure = rt.kernel().failure();
  if (failed) return unexpected(*failed);

  // ------------------------------------------------------------ verdict ---
  const scenarios::PipelineHistory& h = w.history();
  std::vector<PropertyResult> props = check_pipeline(h, perf_expectations(s.expect()));
  const bool task_ok = stop != sim::RunStop::task_failed;
  props.push_back(PropertyResult{"no_task_failure", task_ok, task_ok ? "" : failure});
  const auto& wanted = s.expect().properties();
  for (auto& p : props) {
    bool asked = wanted.empty() || std::find(wanted.begin(), wanted.end(), p.name) != wanted.end() ||
                 p.name == res.report.expect_violation;
    if (asked) res.report.properties.push_back(p);
  }
  res.report.stop = h.settled ? "settled" : "not settled: " + h.stuck;
  res.report.metrics = w.metrics();
  res.live = measure_performance(h);
  for (auto& m : performance_metrics(res.live)) res.report.metrics.push_back(std::move(m));
  res.report.metrics.push_back({"faults_injected", static_cast<double>(faults_started)});
  res.report.metrics.push_back({"input_phase_s", seconds(input_end - Instant::epoch())});
  const engine::InstanceStats t = stat_totals();
  res.report.metrics.push_back({"engine_commits", static_cast<double>(t.commits)});
  res.report.metrics.push_back({"engine_aborts", static_cast<double>(t.aborts)});
  if (ledger) {
    res.report.metrics.push_back({"emulated_txn_commits", static_cast<double>(ledger->commits())});
    res.report.metrics.push_back({"emulated_txn_aborts", static_cast<double>(ledger->aborts())});
    res.report.metrics.push_back({"emulated_txn_fenced", static_cast<double>(ledger->fenced())});
  }
  res.report.sim_time_ns = (rt.now() - Instant::epoch()).ns();
  if (res.sim) {
    res.report.metrics.push_back({"sim_throughput_events_per_s", res.sim->throughput_events_per_s});
    res.report.metrics.push_back({"sim_latency_p50_ms", res.sim->latency_p50_ms});
    res.report.metrics.push_back({"sim_latency_p99_ms", res.sim->latency_p99_ms});
  }

  return res;
}

}  // namespace streamsim::harness
