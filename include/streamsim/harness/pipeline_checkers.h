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
//   never below the previous one;
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

// All of the above, in the order of known_properties().
std::vector<scenarios::PropertyResult> check_pipeline(const scenarios::PipelineHistory& h);

}  // namespace streamsim::harness
