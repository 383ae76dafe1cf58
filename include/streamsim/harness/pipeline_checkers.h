// Checkers of the pipeline workload (scenarios/pipeline_history.h). They judge
// what a read_committed reader and the engine's observer saw, against a batch
// reference evaluated over exactly the committed input; they never look inside
// the engine. Each property comes with its first evidence (window, key,
// expected vs got, offsets) and the number of cases.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/row.h>
#include <streamsim/scenarios/pipeline_history.h>
#include <streamsim/scenarios/scenario.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::harness {

// The plan the reference evaluates: the scenario's (h.spec.plan), or for a
// history without one a keyed count in tumbling windows of h.spec.window_ms.
engine::PipelinePlan reference_plan(const scenarios::PipelineHistory& h);

// A window of the reference or the output: (key, start, end).
struct ReferenceWindowId {
  std::string key;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  auto operator<=>(const ReferenceWindowId&) const = default;
  bool operator==(const ReferenceWindowId&) const = default;
};

// The batch reference: the general evaluator (engine/reference.h) applied to
// reference_plan(h) over exactly the committed, non-sentinel input events that
// are not in the late topic (key and value as the producers wrote them, event
// time = record timestamp), in offset order. Keyed by window; the value is the
// window's final aggregate. Simple on purpose: it is what the streaming output
// must equal. An input the evaluator refuses (a dedup it cannot judge) is an
// error message.
Result<std::map<ReferenceWindowId, engine::Value>, std::string> reference_results(
    const scenarios::PipelineHistory& h);

// Whether an output value equals the reference value: exactly for int64s and
// equal Values; two doubles (avg) within a relative 1e-9, because the engine
// adds a session's parts in merge order and the reference in input order, and
// double addition is not associative beyond 2^53 (the workload's ids stay far
// below it, so in practice the sums are exact).
bool reference_value_matches(const engine::Value& expected, const engine::Value& got);

// The smallest watermark at which an event at event time t is late under the
// reference plan (engine::late_from_watermark_ms): the last covering window's
// end + allowed lateness for tumbling and sliding windows, t + lateness + 1
// for sessions.
int64_t late_from_watermark_ms(const scenarios::PipelineHistory& h, int64_t t);

// Exactly-once (eos_checker.cpp), after Kafka's EOS test driver:
// - input_durable: every acknowledged send is in the committed input at its
//   acknowledged offset;
// - no_duplicates: no window emitted twice, no window whose value is above
//   the reference's (a count or a sum of the workload's non-negative values
//   above it means input counted twice), no window without a committed input
//   event, no late event written twice, no late record naming an event that
//   is not in the committed input;
// - no_losses: every reference window is emitted with the reference value
//   (one below it, or not comparable with it, is a loss; only judged once
//   the pipeline settled: a stall is a liveness violation);
// - no_open_transactions: at the end, the sink, late and changelog topics'
//   last stable offsets equal their high watermarks.
std::vector<scenarios::PropertyResult> check_exactly_once(const scenarios::PipelineHistory& h);

// Watermarks (watermark_checker.cpp), from the observer's reports. The bound at
// processing time T is (the largest event time any producer had sent by T) -
// watermark delay: no honest watermark can pass it, because no engine can have
// seen a record that was not sent.
// - watermark_monotonic: each engine incarnation's advances go strictly up and
//   never below the previous one; and no incarnation reports an advance
//   starting below the highest watermark any incarnation had committed
//   (EngineObserver::on_commit) before it started: the engine restores the
//   highest committed watermark it can read, and only committed ones bind;
// - watermark_bounded: no reported watermark (advance or late judgement) above
//   the bound: it would close windows early;
// - no_on_time_drops: no event judged late whose window end + allowed lateness
//   is above the bound when it was judged (it must have been counted);
// - late_behind_watermark: every committed late record's window end + allowed
//   lateness is at or below the watermark it was judged against.
std::vector<scenarios::PropertyResult> check_watermarks(const scenarios::PipelineHistory& h);

// Liveness and coverage (pipeline_liveness.cpp):
// - coverage: the run had at least the expected committed input events,
//   reference windows and late events (a run that tested nothing fails);
// - liveness: after input stopped and faults healed, the lag drained, every
//   event was emitted in a window or as late, and no transaction stayed open
//   within the settle bound; no engine instance stopped with an error.
std::vector<scenarios::PropertyResult> check_pipeline_liveness(const scenarios::PipelineHistory& h);

// Throughput and latency (perf_checker.cpp), against the scenario's
// Expectations (0 = not checked, and the property is not reported).
struct PerfExpectations {
  double min_throughput_events_per_s = 0;
  uint64_t max_p99_latency_ms = 0;
};
PerfExpectations perf_expectations(const proto::Expectations& e);

// What a run achieved, in simulated time.
// - throughput: committed input events (no sentinels) per second over the
//   input phase, which runs from the first data send to the last data send or
//   the last acknowledgement of one, whichever is later: a cluster that cannot
//   take the input stretches the phase, a producer held back by a full queue
//   sends fewer events in it;
// - latency of an event: from its send (the first, for a duplicate send) to
//   the commit (EngineObserver::on_commit) of the batch whose output first
//   emitted its window, matched by the output's ss.batch and ss.task headers.
//   Late events (counted in no window) are left out; an event whose window has
//   no reported commit (its commit's outcome was unknown to the engine) is
//   counted as unmeasured.
struct PipelinePerf {
  uint64_t events = 0;
  Duration input_phase;
  double throughput_events_per_s = 0;
  uint64_t latency_events = 0, latency_unmeasured = 0;
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
  std::string slowest;  // the event with the largest latency, for evidence
};
PipelinePerf measure_performance(const scenarios::PipelineHistory& h);
// throughput_events_per_s, latency_p50_ms, latency_p99_ms, latency_max_ms,
// latency_unmeasured_events.
std::vector<std::pair<std::string, double>> performance_metrics(const PipelinePerf& p);
// - throughput: at least x.min_throughput_events_per_s (when set);
// - latency_p99: the 99th percentile (nearest rank) at most
//   x.max_p99_latency_ms (when set); violated too when no latency could be
//   measured at all.
std::vector<scenarios::PropertyResult> check_performance(const scenarios::PipelineHistory& h,
                                                         const PerfExpectations& x);

// All of the above, in the order of known_properties().
std::vector<scenarios::PropertyResult> check_pipeline(const scenarios::PipelineHistory& h,
                                                      const PerfExpectations& perf = {});

}  // namespace streamsim::harness
