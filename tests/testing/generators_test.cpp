// The RapidCheck generators users' property tests build on
// (include/streamsim/testing/generators.h): what they promise about disorder,
// lateness, duplicates and fault validity, and that a failing property over
// them shrinks to a small counterexample.
#include <streamsim/engine/pipeline.h>
#include <streamsim/scenarios/scenario.h>
#include <streamsim/testing/driver.h>
#include <streamsim/testing/generators.h>

#include <catch2/catch.hpp>
#include <google/protobuf/text_format.h>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <limits>
#include <map>

using namespace streamsim;
using streamsim::testing::Event;

namespace gen = streamsim::testing::gen;

TEST_CASE("generated on-time events are never behind the maximum earlier event time by more than the bound") {
  rc::prop("bounded disorder", [] {
    testing::DisorderSpec spec;
    spec.max_out_of_order_ms = *rc::gen::inRange<int64_t>(0, 3'000);
    spec.late_fraction = 0.2;
    spec.duplicate_fraction = 0.1;
    spec.keys = *rc::gen::inRange(1, 8);
    spec.partitions = *rc::gen::inRange(1, 4);
    spec.start_ms = spec.max_out_of_order_ms + spec.lateness_ms;
    const auto events = *gen::events(spec);
    int64_t max_before = std::numeric_limits<int64_t>::min();
    int64_t last_arrival = std::numeric_limits<int64_t>::min();
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      RC_ASSERT(e.arrival_ms >= last_arrival);
      RC_ASSERT(e.event_time_ms >= 0);
      RC_ASSERT(e.partition == std::stoi(e.key.substr(1)) % spec.partitions);
      const int64_t behind_arrival = e.arrival_ms - e.event_time_ms;
      switch (e.kind) {
        case Event::Kind::on_time:
          RC_ASSERT(behind_arrival >= 0);
          RC_ASSERT(behind_arrival <= spec.max_out_of_order_ms);
          if (max_before != std::numeric_limits<int64_t>::min())
            RC_ASSERT(e.event_time_ms >= max_before - spec.max_out_of_order_ms);
          break;
        case Event::Kind::late:
          RC_ASSERT(behind_arrival > spec.max_out_of_order_ms);
          RC_ASSERT(behind_arrival <= spec.max_out_of_order_ms + spec.lateness_ms);
          break;
        case Event::Kind::duplicate: {
          // A re-send of an earlier original: same key, value and event time.
          bool found = false;
          for (size_t j = 0; j < i; ++j)
            found = found || (events[j].kind != Event::Kind::duplicate && events[j].key == e.key &&
                              events[j].value == e.value && events[j].event_time_ms == e.event_time_ms);
          RC_ASSERT(found);
          break;
        }
      }
      max_before = std::max(max_before, e.event_time_ms);
      last_arrival = e.arrival_ms;
    }
  });
}

TEST_CASE("the generator's kinds follow the configured fractions") {
  // Explicit draws: the roll picks the kind by the shares in thousandths.
  testing::DisorderSpec spec;
  spec.late_fraction = 0.25;
  spec.duplicate_fraction = 0.25;
  std::vector<testing::EventDraw> draws;
  for (int roll = 0; roll < 1000; ++roll) draws.push_back({1, roll % 3, 0, 0, roll, roll});
  const auto events = testing::to_events(spec, draws);
  REQUIRE(events.size() == 1000);
  std::map<Event::Kind, int> n;
  for (const auto& e : events) ++n[e.kind];
  CHECK(n[Event::Kind::on_time] == 500);
  CHECK(n[Event::Kind::late] == 250);
  CHECK(n[Event::Kind::duplicate] == 250);
}

TEST_CASE("events within the watermark delay are never late and match the batch reference, in any batching") {
  rc::prop("bounded disorder through the engine", [] {
    testing::DisorderSpec spec;
    spec.max_out_of_order_ms = *rc::gen::inRange<int64_t>(0, 2'000);
    spec.duplicate_fraction = 0.1;
    spec.keys = 4;
    spec.partitions = 2;
    spec.max_events = 60;
    const auto events = *gen::events(spec);
    auto built = engine::source("events")
                     .with_watermark(Duration::millis(spec.max_out_of_order_ms))
                     .window(engine::WindowSpec::tumbling(Duration::seconds(2)))
                     .aggregate(engine::Aggregate::count())
                     .late_events(engine::LatePolicy::route)
                     .sink("counts")
                     .build();
    RC_ASSERT(built.ok());
    engine::TestStream ts(*built, {.partitions = 2});
    const auto batch_size = *rc::gen::inRange<size_t>(1, 20);
    std::vector<std::string> rows;
    std::vector<engine::Row> late;
    for (size_t i = 0; i < events.size(); i += batch_size) {
      testing::add_events(ts, std::vector<Event>(events.begin() + i, events.begin() + std::min(events.size(), i + batch_size)));
      auto b = ts.run_batch();
      RC_ASSERT(b.ok());
      for (auto& r : engine::TestStream::format(b->rows())) rows.push_back(r);
      for (auto& r : b->late()) late.push_back(r);
    }
    ts.advance_watermark_to(engine::Watermark::max());
    auto b = ts.run_batch();
    RC_ASSERT(b.ok());
    for (auto& r : engine::TestStream::format(b->rows())) rows.push_back(r);
    // Only a duplicate can be late (it repeats an older event time); an
    // on-time event never is, since the watermark delay is the bound.
    for (const auto& r : late) {
      bool duplicate = false;
      for (const auto& e : events)
        duplicate = duplicate || (e.kind == Event::Kind::duplicate && e.key == r.key.as_string() &&
                                  e.value == r.value.as_int() && e.event_time_ms == r.event_time.ms());
      RC_ASSERT(duplicate);
    }
    std::sort(rows.begin(), rows.end());
    // Per-key counts (each key on one partition), so the reference applies.
    const auto want = testing::reference_rows(*built, testing::without_late(events, late));
    RC_ASSERT(rows == want);
  });
}

namespace {

// A pipeline scenario that every fault kind fits: three brokers, two engine instances.
const char* kBaseScenario = R"(
name: "testing/fault-schedule"
run { safety_ms: 8000 liveness_ms: 30000 }
pipeline {
  cluster { brokers: 3 controllers: 1 }
  input { rate: 100 keys: 10 }
  pipeline {
    name: "click-counts"
    params { key: "window" value: "2s" }
    params { key: "late_events" value: "route" }
  }
  instances: 2
}
)";

}  // namespace

TEST_CASE("every generated fault schedule is accepted by the scenario loader") {
  testing::FaultScheduleSpec spec;
  spec.kinds.clear();
  for (int k = proto::FaultKind_MIN; k <= proto::FaultKind_MAX; ++k)
    if (proto::FaultKind_IsValid(k) && k != proto::FAULT_UNSPECIFIED) spec.kinds.push_back(proto::FaultKind(k));
  spec.nodes = {"broker-0", "broker-2", "controller-0", "engine-0", "engine-1"};
  spec.max_faults = 6;
  rc::prop("valid fault schedules", [&] {
    const auto faults = *gen::fault_schedule(spec);
    RC_ASSERT(faults.size() <= spec.max_faults);
    for (size_t i = 0; i < faults.size(); ++i) {
      RC_ASSERT(faults[i].at_ms() < spec.horizon_ms);
      if (i > 0) RC_ASSERT(faults[i - 1].at_ms() <= faults[i].at_ms());
    }
    proto::Scenario s;
    RC_ASSERT(google::protobuf::TextFormat::ParseFromString(kBaseScenario, &s));
    *s.mutable_faults() = testing::to_faults(faults);
    std::string text;
    google::protobuf::TextFormat::PrintToString(s, &text);
    auto parsed = scenarios::parse_scenario(text, "generated.textproto");
    RC_LOG() << text;
    if (!parsed.ok()) RC_FAIL(parsed.error().format());
    RC_ASSERT(parsed->faults().scripted_size() == static_cast<int>(faults.size()));
  });
}

TEST_CASE("a failing property over generated events shrinks to two events one millisecond apart") {
  // The property claims events arrive in event-time order, which disorder
  // breaks; RapidCheck must find that and shrink it. The last failing input is
  // the shrunk counterexample (shrinking only moves to inputs that still fail).
  testing::DisorderSpec spec;
  spec.max_out_of_order_ms = 1'000;
  spec.keys = 5;
  std::vector<Event> last_failing;
  const bool held = rc::check("events arrive in event-time order (false)", [&] {
    const auto events = *gen::events(spec);
    for (size_t i = 1; i < events.size(); ++i)
      if (events[i].event_time_ms < events[i - 1].event_time_ms) {
        last_failing = events;
        RC_FAIL("out of order");
      }
  });
  REQUIRE_FALSE(held);
  INFO("counterexample: " << rc::toString(last_failing));
  REQUIRE(last_failing.size() == 2);
  CHECK(last_failing[0].event_time_ms - last_failing[1].event_time_ms == 1);
  CHECK(last_failing[0].key == "k0");
  CHECK(last_failing[1].key == "k0");
}

TEST_CASE("a failing property over fault schedules shrinks to one fault at time zero") {
  testing::FaultScheduleSpec spec;
  spec.kinds = {proto::CRASH, proto::PAUSE};
  spec.min_duration_ms = 100;
  spec.max_faults = 8;
  std::vector<proto::ScriptedFault> last_failing;
  const bool held = rc::check("no schedule pauses a node (false)", [&] {
    const auto faults = *gen::fault_schedule(spec);
    for (const auto& f : faults)
      if (f.kind() == proto::PAUSE) {
        last_failing = faults;
        RC_FAIL("a PAUSE");
      }
  });
  REQUIRE_FALSE(held);
  INFO("counterexample:\n" << testing::describe(last_failing));
  REQUIRE(last_failing.size() == 1);
  CHECK(last_failing[0].kind() == proto::PAUSE);
  CHECK(last_failing[0].at_ms() == 0);
  CHECK(last_failing[0].duration_ms() == 100);
  CHECK(last_failing[0].nodes_size() == 0);
}
