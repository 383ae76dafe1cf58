// RapidCheck generators for users' property tests (docs/library.md): input
// events with bounded disorder, late events and duplicates, and scripted fault
// schedules. Both are built from rc::gen combinators over small integer draws
// (gaps, displacements, indices), so a failing property shrinks to few events
// with small times, or to one fault at time 0 with the shortest duration.
//
//   rc::prop("per-key counts match the reference", [] {
//     const auto events = *streamsim::testing::gen::events({.keys = 3, .max_out_of_order_ms = 500});
//     ...
//   });
//
// Generation draws randomness only from RapidCheck (which is seeded and
// replayable through RC_PARAMS); nothing here reads a clock.
#pragma once

#include <streamsim/engine/row.h>
#include <streamsim/engine/test_stream.h>
#include <streamsim/proto/scenario.pb.h>

#include <rapidcheck.h>

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace streamsim::testing {

// One input event in arrival order. Keys are "k0".."k<keys-1>"; value is the
// event's id (its index among the original, non-duplicate events), so a
// duplicate repeats its original's key, value and event time exactly.
struct Event {
  enum class Kind { on_time, late, duplicate };
  std::string key;
  int64_t value = 0;
  int64_t event_time_ms = 0;
  int64_t arrival_ms = 0;   // processing time at which it arrives (nondecreasing)
  int32_t partition = 0;    // key index mod partitions, as a keyed producer would place it
  Kind kind = Kind::on_time;
  bool operator==(const Event&) const = default;
};
const char* to_string(Event::Kind k);
std::ostream& operator<<(std::ostream& os, const Event& e);

struct DisorderSpec {
  int keys = 5;                        // >= 1
  int partitions = 1;                  // >= 1
  // An on-time event's event time is at most this far behind its arrival time,
  // and so (arrivals being nondecreasing) at most this far behind the maximum
  // event time seen before it: a watermark delay >= this bound never makes it late.
  int64_t max_out_of_order_ms = 1'000;  // >= 0
  // Fraction of events generated late: behind their arrival time by more than
  // max_out_of_order_ms, at most by max_out_of_order_ms + lateness_ms.
  double late_fraction = 0.0;
  int64_t lateness_ms = 5'000;         // >= 1
  // Fraction of events that re-send an earlier event (a producer retry).
  // A duplicate keeps its original's event time, so it has no disorder bound.
  double duplicate_fraction = 0.0;
  int64_t max_step_ms = 200;           // gap between consecutive arrivals in [0, max_step_ms]
  // Arrival time of the first event. Precondition: >= max_out_of_order_ms +
  // lateness_ms, so no event time is negative.
  int64_t start_ms = 60'000;
  std::size_t max_events = 0;          // 0: up to RapidCheck's size (100 by default)
};

// Per-event draws, before they become events (public so users can combine
// them; events() is gen::map(gen::container(draw), to_events)).
struct EventDraw {
  int64_t gap_ms = 0;
  int key = 0;
  int64_t displacement_ms = 0;   // on-time: behind arrival by this
  int64_t lateness_ms = 0;       // late: behind arrival by bound + 1 + this
  int kind_roll = 0;             // [0, 1000): on-time below the on-time share, then late, then duplicate
  int original = 0;              // duplicate: which earlier original (mod their count)
};
std::vector<Event> to_events(const DisorderSpec& spec, const std::vector<EventDraw>& draws);

struct FaultScheduleSpec {
  // Kinds to draw from, in shrink order (the first is what a shrunk fault
  // becomes). Default: the broker and network faults every workload accepts.
  std::vector<proto::FaultKind> kinds = {proto::CRASH, proto::LATENCY_SPIKE, proto::PACKET_LOSS,
                                          proto::PARTITION, proto::PAUSE, proto::SLOW_NODE};
  uint64_t horizon_ms = 10'000;        // at_ms in [0, horizon_ms)
  std::size_t max_faults = 4;
  uint64_t min_duration_ms = 100;      // for kinds that last; LEADER_MOVE is instantaneous (0)
  uint64_t max_duration_ms = 3'000;    // >= min_duration_ms
  // Target candidates: engine kinds (ENGINE_CRASH, ZOMBIE_ENGINE, ENGINE_SCALE,
  // ISOLATE_ENGINE) may name one "engine-N" node, node kinds (CRASH, PAUSE,
  // ...) one other node; empty (and kinds that find their target in the
  // cluster state) leave nodes empty: the nemesis picks an eligible node.
  std::vector<std::string> nodes;
  // ZOMBIE_ENGINE pauses an instance longer than its group session timeout
  // (pipeline.engine.session_timeout_ms; the engine default is 6000).
  uint64_t session_timeout_ms = 6'000;
};

// The faults section of a scenario holding `faults` as scripted faults.
proto::Faults to_faults(const std::vector<proto::ScriptedFault>& faults);
// One line per fault, in text format ("at_ms: 0 kind: CRASH duration_ms: 100").
std::string describe(const std::vector<proto::ScriptedFault>& faults);

// Queues events on a TestStream in arrival order: key and value typed-encoded,
// the event time as the record timestamp, on the event's partition.
void add_events(engine::TestStream& ts, const std::vector<Event>& events);
// The events whose (key, value, event time) the engine routed as late (its
// BatchOutput::late() rows) removed once each: what the run was required to
// count, for engine::evaluate_reference.
std::vector<Event> without_late(const std::vector<Event>& events, const std::vector<engine::Row>& late);

namespace gen {
// Events as described by DisorderSpec (preconditions there: SS_ASSERT).
rc::Gen<std::vector<Event>> events(DisorderSpec spec = {});
// 0..max_faults scripted faults, sorted by at_ms, each valid for a pipeline
// scenario's loader: a kind from spec.kinds, a duration fitting the kind
// (positive where the kind needs one, 0 for LEADER_MOVE, above the session
// timeout for ZOMBIE_ENGINE), kind-specific settings in range (PACKET_LOSS
// probability, LATENCY_SPIKE and FSYNC_STALL extra latency, SLOW_NODE factor).
rc::Gen<std::vector<proto::ScriptedFault>> fault_schedule(FaultScheduleSpec spec = {});
}  // namespace gen

}  // namespace streamsim::testing

namespace streamsim::proto {
// RapidCheck prints counterexamples through showValue (found by ADL).
void showValue(const ScriptedFault& f, std::ostream& os);
}  // namespace streamsim::proto
