// The watermark checker across engine restarts, on hand-made histories: an
// incarnation must not report a watermark advance starting below the highest
// watermark any incarnation had committed before it started; advances that
// were never committed bind nobody.
#include <catch2/catch.hpp>

#include <streamsim/harness/pipeline_checkers.h>

#include <algorithm>
#include <string>

using namespace streamsim;
using namespace streamsim::scenarios;
using streamsim::harness::check_pipeline;

namespace {

Instant at_ms(int64_t ms) { return Instant::epoch() + Duration::millis(ms); }

// Seven events on partition 0 sent in the first 600 ms (largest event time
// 1500, delay 200: no honest watermark passes 1300 before the sentinel is sent
// at 9 s), the correct output, and engine-0's first incarnation: it commits
// watermark 900, then reports an advance to 1300 that it never commits (it
// crashes), and its second incarnation starts at 3 s.
PipelineHistory restarted() {
  PipelineHistory h;
  h.spec = ReferenceSpec{"clicks", 1000, 200, 0};
  for (int i = 0; i < 6; ++i) h.input.push_back(InputEvent{0, i, "a", 100 + i * 100, static_cast<uint64_t>(i), false});
  h.input.push_back(InputEvent{0, 6, "b", 1500, 6, false});
  h.input.push_back(InputEvent{0, 7, "__end-0", 9000, 7, true});
  for (const auto& ev : h.input) {
    PipelineSend s;
    s.id = ev.id;
    s.key = ev.key;
    s.event_time_ms = ev.event_time_ms;
    s.sent_at = at_ms(ev.sentinel ? 9000 : ev.offset * 100);
    s.acked = true;
    s.offset = ev.offset;
    s.sentinel = ev.sentinel;
    h.sends.push_back(s);
  }
  h.output.push_back(WindowResult{0, 0, "a", 0, 1000, 6, "3", "0"});
  h.output.push_back(WindowResult{0, 1, "b", 1000, 2000, 1, "4", "0"});
  h.engine_starts.push_back(EngineStart{"engine-0#1", at_ms(0)});
  h.watermarks.push_back(WatermarkReport{"engine-0#1", at_ms(1200), INT64_MIN, 900, 1});
  h.watermark_commits.push_back(WatermarkCommit{"engine-0#1", at_ms(1250), 1, 0, 900});
  h.watermarks.push_back(WatermarkReport{"engine-0#1", at_ms(2000), 900, 1300, 2});  // crashed before its commit
  h.engine_starts.push_back(EngineStart{"engine-0#2", at_ms(3000)});
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

void require_only_violated(const std::vector<PropertyResult>& all, const std::vector<std::string>& names) {
  for (const auto& p : all) {
    const bool expected = std::find(names.begin(), names.end(), p.name) != names.end();
    INFO(p.name << ": " << p.evidence);
    REQUIRE(p.held == !expected);
  }
}

}  // namespace

TEST_CASE("watermark checker: a restarted incarnation starting at the committed watermark holds", "[harness]") {
  PipelineHistory h = restarted();
  // It restored 900 (the uncommitted 1300 does not bind it) and goes on.
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(4000), 900, 1000, 1});
  h.watermark_commits.push_back(WatermarkCommit{"engine-0#2", at_ms(4050), 1, 0, 1000});
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(9500), 1000, 8800, 2});
  require_only_violated(check_pipeline(h), {});
}

TEST_CASE("watermark checker: a restarted incarnation going below the committed watermark is a violation",
          "[harness]") {
  PipelineHistory h = restarted();
  // It forgot the committed 900 and starts from nothing.
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(4000), INT64_MIN, 1000, 1});
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(9500), 1000, 8800, 2});
  const auto all = check_pipeline(h);
  require_only_violated(all, {"watermark_monotonic"});
  const std::string& ev = prop(all, "watermark_monotonic").evidence;
  INFO(ev);
  REQUIRE(ev.find("engine-0#2 batch 1: watermark advance from -inf starts below 900ms, committed by engine-0#1 batch 1")
          != std::string::npos);
}

TEST_CASE("watermark checker: another instance's earlier commit binds a restarted incarnation, a later one does not",
          "[harness]") {
  PipelineHistory h = restarted();
  h.engine_starts.push_back(EngineStart{"engine-1#1", at_ms(0)});
  h.watermark_commits.push_back(WatermarkCommit{"engine-1#1", at_ms(2500), 4, 1, 1200});  // before engine-0#2 started
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(4000), 900, 1000, 1});
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(9500), 1000, 8800, 2});
  const auto all = check_pipeline(h);
  require_only_violated(all, {"watermark_monotonic"});
  REQUIRE(prop(all, "watermark_monotonic").evidence.find("committed by engine-1#1 batch 4") != std::string::npos);
  // The same commit after engine-0#2 started: it could not have read it.
  h = restarted();
  h.engine_starts.push_back(EngineStart{"engine-1#1", at_ms(0)});
  h.watermark_commits.push_back(WatermarkCommit{"engine-1#1", at_ms(3500), 4, 1, 1200});
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(4000), 900, 1000, 1});
  h.watermarks.push_back(WatermarkReport{"engine-0#2", at_ms(9500), 1000, 8800, 2});
  require_only_violated(check_pipeline(h), {});
}
