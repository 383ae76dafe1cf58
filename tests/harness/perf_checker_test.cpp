// The throughput and latency checker on hand-made histories: measured values,
// a run within its bounds, and each bound missed with its evidence.
#include <catch2/catch.hpp>

#include <streamsim/harness/pipeline_checkers.h>

#include <string>

using namespace streamsim;
using namespace streamsim::scenarios;
using streamsim::harness::check_performance;
using streamsim::harness::check_pipeline;
using streamsim::harness::measure_performance;
using streamsim::harness::PerfExpectations;

namespace {

Instant at_ms(int64_t ms) { return Instant::epoch() + Duration::millis(ms); }

// 100 events of key "a" sent 10 ms apart from t = 1 s (100 events/s), each
// acknowledged 5 ms after its send; event time = send time, so all fall in the
// 1 s window [1000, 2000), which batch 7 of task 0 emits and commits at 2.5 s.
// The sentinel is left out of everything measured.
PipelineHistory history() {
  PipelineHistory h;
  h.spec = ReferenceSpec{"clicks", 1000, 200, 0};
  for (int i = 0; i < 100; ++i) {
    const int64_t t = 1000 + i * 10;
    h.input.push_back(InputEvent{0, i, "a", t, static_cast<uint64_t>(i), false});
    PipelineSend s;
    s.id = static_cast<uint64_t>(i);
    s.key = "a";
    s.event_time_ms = t;
    s.sent_at = at_ms(t);
    s.acked = true;
    s.offset = i;
    s.acked_at = at_ms(t + 5);
    h.sends.push_back(s);
  }
  PipelineSend sentinel;
  sentinel.id = 1000;
  sentinel.key = "__end-0";
  sentinel.sentinel = true;
  sentinel.sent_at = at_ms(60'000);
  sentinel.acked = true;
  sentinel.offset = 100;
  sentinel.acked_at = at_ms(60'001);
  h.sends.push_back(sentinel);
  h.input.push_back(InputEvent{0, 100, "__end-0", 90'000, 1000, true});
  h.output.push_back(WindowResult{0, 0, "a", 1000, 2000, 100, "7", "0"});
  h.watermark_commits.push_back(WatermarkCommit{"engine-0#1", at_ms(2500), 7, 0, 1800});
  h.final_read_done = true;
  h.settled = true;
  h.stuck.clear();
  h.settle_bound = Duration::seconds(10);
  return h;
}

const PropertyResult& prop(const std::vector<PropertyResult>& all, const std::string& name) {
  for (const auto& p : all)
    if (p.name == name) return p;
  FAIL("no property " << name);
  return all.front();
}

}  // namespace

TEST_CASE("perf checker: throughput and latency percentiles of a run", "[harness]") {
  const auto p = measure_performance(history());
  REQUIRE(p.events == 100);
  // First send at 1.000 s, last acknowledgement at 1.995 s.
  REQUIRE(p.input_phase == Duration::millis(995));
  REQUIRE(p.throughput_events_per_s == Approx(100.0 / 0.995));
  // Latencies 2500 - (1000 + 10 i) for i = 0..99: 510 .. 1500 ms.
  REQUIRE(p.latency_events == 100);
  REQUIRE(p.latency_unmeasured == 0);
  REQUIRE(p.latency_max_ms == Approx(1500));
  REQUIRE(p.latency_p50_ms == Approx(1000));  // rank 50 of 100: i = 50
  REQUIRE(p.latency_p99_ms == Approx(1490));  // rank 99 of 100: i = 1
  REQUIRE(p.slowest.find("clicks[0]@0") != std::string::npos);
}

TEST_CASE("perf checker: a run within its bounds holds, and no bound means no property", "[harness]") {
  const auto all = check_pipeline(history(), PerfExpectations{90, 1500});
  for (const auto& r : all) {
    INFO(r.name << ": " << r.evidence);
    REQUIRE(r.held);
  }
  REQUIRE(prop(all, "throughput").held);
  REQUIRE(prop(all, "latency_p99").held);
  REQUIRE(check_performance(history(), PerfExpectations{}).empty());
  REQUIRE(check_performance(history(), PerfExpectations{0, 2000}).size() == 1);
}

TEST_CASE("perf checker: throughput below the expectation is reported with the phase", "[harness]") {
  PipelineHistory h = history();
  // The cluster could not take the input: the last acknowledgement came 9 s late.
  h.sends[99].acked_at = at_ms(10'990);
  const auto all = check_performance(h, PerfExpectations{50, 0});
  REQUIRE(all.size() == 1);
  REQUIRE_FALSE(all[0].held);
  REQUIRE(all[0].name == "throughput");
  INFO(all[0].evidence);
  REQUIRE(all[0].evidence.find("throughput 10.0 events/s, expected at least 50.0") != std::string::npos);
  REQUIRE(all[0].evidence.find("100 committed input events") != std::string::npos);
}

TEST_CASE("perf checker: p99 latency above the expectation names the slowest event", "[harness]") {
  PipelineHistory h = history();
  // The window's transaction committed only at 6 s: latencies 4010 .. 5000 ms.
  h.watermark_commits[0].at = at_ms(6000);
  const auto r = check_performance(h, PerfExpectations{0, 3000});
  REQUIRE(r.size() == 1);
  REQUIRE(r[0].name == "latency_p99");
  REQUIRE_FALSE(r[0].held);
  INFO(r[0].evidence);
  REQUIRE(r[0].evidence.find("p99 latency 4990.0 ms, expected at most 3000 ms") != std::string::npos);
  REQUIRE(r[0].evidence.find("committed at") != std::string::npos);
}

TEST_CASE("perf checker: the first commit of a window counts, late and unmatched events are not measured", "[harness]") {
  PipelineHistory h = history();
  // An earlier commit of the same (batch, task) by a previous incarnation
  // (at-least-once re-run): the first is when readers could see it.
  h.watermark_commits.push_back(WatermarkCommit{"engine-0#2", at_ms(2100), 7, 0, 1800});
  // Event 5 went to the late topic; event 6's key has no emitted window.
  h.late.push_back(LateResult{0, 0, "clicks[0]@5", 1050, 2000, true});
  h.input[6].key = "b";
  const auto p = measure_performance(h);
  REQUIRE(p.latency_events == 98);
  REQUIRE(p.latency_unmeasured == 1);
  REQUIRE(p.latency_max_ms == Approx(1100));
  // A run whose windows have no reported commit measures nothing: with a
  // bound set, that is a violation rather than a vacuous pass.
  h.watermark_commits.clear();
  const auto r = check_performance(h, PerfExpectations{0, 3000});
  REQUIRE_FALSE(r.at(0).held);
  REQUIRE(r[0].evidence.find("no latency measured") != std::string::npos);
}
