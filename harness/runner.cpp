#include <streamsim/harness/runner.h>

#include <streamsim/core/assert.h>
#include <streamsim/faults/nemesis.h>
#include <streamsim/harness/checkers.h>
#include <streamsim/harness/kafka_history.h>
#include <streamsim/harness/pipeline_checkers.h>
#include <streamsim/reports/timeline.h>
#include <streamsim/scenarios/counter.h>
#include <streamsim/scenarios/kafka_jepsen.h>
#include <streamsim/scenarios/pipeline.h>
#include <streamsim/sim/simulation.h>

#include <algorithm>
#include <map>
#include <utility>

namespace streamsim::harness {

using scenarios::PropertyResult;

bool RunReport::violated() const { return first_violation() != nullptr; }

const PropertyResult* RunReport::first_violation() const {
  for (const auto& p : properties) {
    if (!p.held) return &p;
  }
  return nullptr;
}

namespace {

template <class T>
T or_default(T v, T d) {
  return v ? v : d;
}

sim::SimulationConfig make_config(const proto::Scenario& s, const RunOptions& opt, TraceSink* sink) {
  sim::SimulationConfig cfg;
  const auto& r = s.run();
  cfg.limits.max_steps = or_default<uint64_t>(r.max_steps(), 200'000'000);
  cfg.limits.max_time = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(r.max_sim_time_ms(), 3'600'000)));
  const auto& n = s.network();
  using K = sim::LatencyModel::Kind;
  switch (n.latency()) {
    case proto::NetworkModel::CONSTANT: cfg.latency.kind = K::constant; break;
    case proto::NetworkModel::UNIFORM: cfg.latency.kind = K::uniform; break;
    case proto::NetworkModel::EXPONENTIAL: cfg.latency.kind = K::exponential; break;
    default: cfg.latency.kind = K::lognormal; break;
  }
  cfg.latency.min = Duration::micros(static_cast<int64_t>(or_default<uint64_t>(n.latency_min_us(), 50)));
  cfg.latency.median = Duration::micros(static_cast<int64_t>(or_default<uint64_t>(n.latency_median_us(), 500)));
  cfg.latency.sigma = n.latency_sigma() > 0 ? n.latency_sigma() : 0.6;
  cfg.latency.max = Duration::micros(static_cast<int64_t>(or_default<uint64_t>(n.latency_max_us(), 100'000)));
  cfg.disk_faults.torn_write_probability = s.disk().torn_write_probability();
  cfg.disk_faults.bit_flip_probability = s.disk().bit_flip_probability();
  if (s.disk().fsync_us()) cfg.disk_latency.fsync = Duration::micros(static_cast<int64_t>(s.disk().fsync_us()));
  cfg.log_level = opt.log_level;
  cfg.trace_sink = sink;
  const auto& bg = s.faults().buggify();
  cfg.buggify = bg.enabled();
  if (bg.fire_probability() > 0) cfg.buggify_fire_probability = bg.fire_probability();
  if (bg.enable_probability() > 0) cfg.buggify_enable_probability = bg.enable_probability();
  return cfg;
}

// The pipeline's own series for the report's timeline: input events acked per
// second, the consumer lag (events acked minus events in batches made durable),
// the global watermark and the largest event time sent so far.
void add_pipeline_series(const scenarios::PipelineHistory& h, int64_t end_ns, proto::Timeline* tl) {
  std::vector<int64_t> acked;
  std::vector<std::pair<int64_t, int64_t>> lag_steps;  // (t, +n acked / -n consumed)
  std::vector<std::pair<int64_t, double>> max_event;
  double mx = 0;
  bool any = false;
  for (const auto& s : h.sends) {
    if (s.sentinel) continue;
    if (!any || static_cast<double>(s.event_time_ms) > mx) {
      mx = static_cast<double>(s.event_time_ms);
      any = true;
      max_event.push_back({s.sent_at.ns(), mx});
    }
    if (s.acked) {
      acked.push_back(s.acked_at.ns());
      lag_steps.push_back({s.acked_at.ns(), 1});
    }
  }
  // A batch's records count as consumed at the first commit of that batch.
  std::map<std::pair<std::string, uint64_t>, uint64_t> records;
  for (const auto& b : h.batches) records[{b.engine, b.batch}] = b.records_in;
  for (const auto& c : h.watermark_commits) {
    auto it = records.find({c.engine, c.batch});
    if (it == records.end()) continue;
    lag_steps.push_back({c.at.ns(), -static_cast<int64_t>(it->second)});
    records.erase(it);
  }
  std::stable_sort(lag_steps.begin(), lag_steps.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::pair<int64_t, double>> lag;
  int64_t level = 0;
  for (const auto& [t, d] : lag_steps) {
    level += d;
    // Re-processing after a crash can consume more than was acked since; the
    // lag never goes below zero.
    if (level < 0) level = 0;
    lag.push_back({t, static_cast<double>(level)});
  }
  std::vector<std::pair<int64_t, double>> wm;
  for (const auto& w : h.watermarks) {
    if (w.to_ms == INT64_MIN) continue;
    wm.push_back({w.at.ns(), static_cast<double>(w.to_ms)});
  }
  std::stable_sort(wm.begin(), wm.end(), [](auto& a, auto& b) { return a.first < b.first; });
  using reports::kMaxSeriesPoints;
  *tl->add_series() = reports::count_series("throughput", "events/s", acked, 0, end_ns, kMaxSeriesPoints, true);
  *tl->add_series() = reports::sample_series("consumer_lag", "events", lag, 0, end_ns, kMaxSeriesPoints);
  *tl->add_series() = reports::sample_series("watermark_ms", "ms", wm, 0, end_ns, kMaxSeriesPoints);
  *tl->add_series() = reports::sample_series("max_event_time_ms", "ms", max_event, 0, end_ns, kMaxSeriesPoints);
}

}  // namespace

RunReport run_scenario(const proto::Scenario& s, const RunOptions& opt) {
  SS_ASSERT(s.workload_case() != proto::Scenario::WORKLOAD_NOT_SET, "scenario without a workload (validated by the loader)");
  RunReport rep;
  rep.scenario = s.name();
  rep.seed = opt.seed;
  rep.expect_violation = s.expect().expect_violation();

  // The timeline recorder sees every event after the tracer hashed it and
  // forwards it to the caller's sink: observing does not change the run.
  reports::TimelineRecorder timeline(opt.trace);
  sim::Simulation sim(opt.seed, make_config(s, opt, &timeline));
  std::unique_ptr<scenarios::Workload> w = scenarios::make_workload(s);
  SS_ASSERT(w != nullptr, "no factory for the scenario's workload");
  w->setup(sim);
  faults::Nemesis nemesis(sim, s.faults(), w->fault_targets(), w->disk_loss_targets());
  nemesis.set_engine_targets(w->engine_targets());
  nemesis.set_hooks(w.get());
  rep.faults = nemesis.describe();
  nemesis.start();

  // Safety phase: the workload runs under faults.
  const Duration safety = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(s.run().safety_ms(), 20'000)));
  const Duration liveness = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(s.run().liveness_ms(), 30'000)));
  sim::RunStop stop = sim.run_until(Instant::epoch() + safety);
  bool within_limits = stop == sim::RunStop::reached || stop == sim::RunStop::quiescent;
  bool task_ok = stop != sim::RunStop::task_failed;
  std::string failure = sim.kernel().failure();

  // Liveness phase: heal everything, stop new work, let open work finish.
  int64_t heal_ns = 0;
  if (within_limits && task_ok) {
    heal_ns = sim.now().ns();
    nemesis.stop_and_heal();
    w->begin_liveness();
    stop = sim.run_until(sim.now() + liveness);
    within_limits = stop != sim::RunStop::step_limit && stop != sim::RunStop::time_limit;
    task_ok = stop != sim::RunStop::task_failed;
    if (!task_ok) failure = sim.kernel().failure();
  }
  rep.stop = sim::to_string(stop);
  rep.fault_log = nemesis.log();
  rep.fault_schedule = nemesis.schedule();

  std::vector<PropertyResult> all;
  if (auto* cw = dynamic_cast<scenarios::CounterWorkload*>(w.get())) {
    all = check_counter(cw->history(), cw->replica_count());
  } else if (auto* kw = dynamic_cast<scenarios::KafkaJepsenWorkload*>(w.get())) {
    all = check_kafka(kw->history(), kw->idempotent());
    // Liveness: after the heal, every partition must be readable to its end.
    PropertyResult live{"liveness", true, ""};
    if (!kw->final_read_done()) live = {"liveness", false, "the final read did not finish within the liveness phase"};
    else if (!kw->final_read_error().empty()) live = {"liveness", false, kw->final_read_error()};
    all.push_back(live);
  } else if (auto* pw = dynamic_cast<scenarios::PipelineWorkload*>(w.get())) {
    all = check_pipeline(pw->history(), perf_expectations(s.expect()));
  }
  all.push_back(PropertyResult{"no_task_failure", task_ok, task_ok ? "" : failure});
  all.push_back(PropertyResult{"within_limits", within_limits,
                               within_limits ? "" : std::string("run stopped by ") + sim::to_string(stop) + " at " +
                                                        format_instant(sim.now()) + " after " +
                                                        std::to_string(sim.kernel().stats().steps) + " steps"});
  // Report the properties the scenario asks for (all when it names none), in the
  // order the checkers define.
  const auto& wanted = s.expect().properties();
  for (auto& p : all) {
    bool asked = wanted.empty() || std::find(wanted.begin(), wanted.end(), p.name) != wanted.end() ||
                 p.name == rep.expect_violation;
    if (asked) rep.properties.push_back(p);
  }
  rep.metrics = w->metrics();
  // Throughput and latency are measured on every pipeline run, checked only
  // against the expectations a scenario sets.
  if (auto* pw = dynamic_cast<scenarios::PipelineWorkload*>(w.get()))
    for (auto& m : performance_metrics(measure_performance(pw->history()))) rep.metrics.push_back(std::move(m));
  const auto& ks = sim.kernel().stats();
  rep.metrics.push_back({"faults_injected", static_cast<double>(nemesis.faults_started())});
  rep.metrics.push_back({"messages_sent", static_cast<double>(sim.net().stats().sent)});
  rep.metrics.push_back({"messages_dropped", static_cast<double>(sim.net().stats().dropped)});
  rep.metrics.push_back({"task_switches", static_cast<double>(ks.switches)});
  rep.metrics.push_back({"timers_fired", static_cast<double>(ks.timers_fired)});
  rep.metrics.push_back({"tasks_spawned", static_cast<double>(ks.tasks_spawned)});
  // Coverage marks: every mark reached, and which of the scenario's targets were.
  for (const auto& [mark, hits] : sim.coverage()) rep.coverage.emplace_back(mark, hits);
  for (const auto& t : s.expect().targets()) {
    if (sim.coverage().count(t)) rep.targets_reached.push_back(t);
    else rep.targets_missed.push_back(t);
  }
  SS_ASSERT(rep.targets_reached.size() + rep.targets_missed.size() == static_cast<size_t>(s.expect().targets_size()),
            "every target is either reached or missed");
  rep.sim_time_ns = sim.now().ns();
  rep.steps = ks.steps;
  sim.tracer().record(sim.now(), 0, TraceKind::run_end, ks.steps);
  rep.trace_hash = sim.tracer().hash();
  rep.trace_events = sim.tracer().count();
  // What the destructor unwinds after run_end is not part of the result.
  sim.set_trace_sink(nullptr);
  rep.timeline = timeline.finish(rep.sim_time_ns, heal_ns);
  if (auto* pw = dynamic_cast<scenarios::PipelineWorkload*>(w.get()))
    add_pipeline_series(pw->history(), rep.sim_time_ns, &rep.timeline);
  return rep;
}

}  // namespace streamsim::harness
