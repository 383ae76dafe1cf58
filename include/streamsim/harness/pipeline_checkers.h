// Checkers of the pipeline workload (scenarios/pipeline_history.h). They judge
// what a read_committed reader and the engine's observer saw, against a batch
// reference evaluated over exactly the committed input; they never look inside
// the engine. Each property comes with its first evidence (window, key,
// expected vs got, offsets) and the number of cases.
#pragma once

#include <streamsim/scenarios/pipeline_history.h>
#include <streamsim/scenarios/scenario.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::harness {

// The batch reference: for every committed, non-sentinel input event that is
// not in the late topic, one count in its tumbling window of its key. Keyed by
// (key, window start); the value is the count. Simple on purpose: it is what
// the streaming output must equal.
std::map<std::pair<std::string, int64_t>, int64_t> reference_counts(const scenarios::PipelineHistory& h);

// Exactly-once (eos_checker.cpp), after Kafka's EOS test driver:
// - input_durable: every acknowledged send is in the committed input at its
//   acknowledged offset;
// - no_duplicates: no window emitted twice, no window counting more events
//   than the reference, no window without a committed input event, no late
//   event written twice, no late record naming an event that is not in the
//   committed input;
// - no_losses: every reference window is emitted with the reference count
//   (only judged once the pipeline settled: a stall is a liveness violation);
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
