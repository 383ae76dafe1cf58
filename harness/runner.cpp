#include <streamsim/harness/runner.h>

#include <streamsim/core/assert.h>
#include <streamsim/faults/nemesis.h>
#include <streamsim/harness/checkers.h>
#include <streamsim/harness/kafka_history.h>
#include <streamsim/harness/pipeline_checkers.h>
#include <streamsim/scenarios/counter.h>
#include <streamsim/scenarios/kafka_jepsen.h>
#include <streamsim/scenarios/pipeline.h>
#include <streamsim/sim/simulation.h>

#include <algorithm>

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

sim::SimulationConfig make_config(const proto::Scenario& s, const RunOptions& opt) {
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
  cfg.trace_sink = opt.trace;
  const auto& bg = s.faults().buggify();
  cfg.buggify = bg.enabled();
  if (bg.fire_probability() > 0) cfg.buggify_fire_probability = bg.fire_probability();
  if (bg.enable_probability() > 0) cfg.buggify_enable_probability = bg.enable_probability();
  return cfg;
}

}  // namespace

RunReport run_scenario(const proto::Scenario& s, const RunOptions& opt) {
  SS_ASSERT(s.workload_case() != proto::Scenario::WORKLOAD_NOT_SET, "scenario without a workload (validated by the loader)");
  RunReport rep;
  rep.scenario = s.name();
  rep.seed = opt.seed;
  rep.expect_violation = s.expect().expect_violation();

  sim::Simulation sim(opt.seed, make_config(s, opt));
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
  if (within_limits && task_ok) {
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
  return rep;
}

}  // namespace streamsim::harness
