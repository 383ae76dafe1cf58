// The exactly-once checker with the general batch reference (engine/reference.h)
// on hand-made histories of the windowed-aggregate pipeline: a correct sliding
// window sum holds, one wrong value is reported with its window and key, and
// session lateness is judged per event by the watermark checker.
#include <catch2/catch.hpp>

#include <streamsim/engine/registry.h>
#include <streamsim/harness/pipeline_checkers.h>

#include <memory>
#include <string>

using namespace streamsim;
using namespace streamsim::scenarios;
using streamsim::harness::check_exactly_once;
using streamsim::harness::check_watermarks;
using streamsim::harness::reference_results;

namespace {

std::shared_ptr<const engine::PipelinePlan> plan_of(std::vector<std::pair<std::string, std::string>> params) {
  engine::PipelineRegistry reg;
  engine::register_builtin_pipelines(reg);
  params.push_back({"late_events", "route"});
  params.push_back({"watermark_delay", "200ms"});
  auto p = reg.build("windowed-aggregate", params);
  if (!p) FAIL("pipeline: " << p.error().format());
  return std::make_shared<const engine::PipelinePlan>(p->plan());
}

// Key "a": ids 1, 2, 3 at 100, 600, 1200 ms; key "b": id 10 at 700 ms; then a
// sentinel. Sliding windows of 1000 ms every 500 ms, sum of the ids.
PipelineHistory sliding_sum() {
  PipelineHistory h;
  h.spec = ReferenceSpec{"events", 1000, 200, 0,
                         plan_of({{"window", "sliding"}, {"size", "1000ms"}, {"slide", "500ms"}, {"aggregate", "sum"}})};
  h.input = {InputEvent{0, 0, "a", 100, 1, false}, InputEvent{0, 1, "a", 600, 2, false},
             InputEvent{0, 2, "b", 700, 10, false}, InputEvent{0, 3, "a", 1200, 3, false},
             InputEvent{0, 4, "__end-0", 9000, 99, true}};
  for (const auto& ev : h.input) {
    PipelineSend s;
    s.id = ev.id;
    s.key = ev.key;
    s.event_time_ms = ev.event_time_ms;
    s.acked = true;
    s.offset = ev.offset;
    s.sentinel = ev.sentinel;
    h.sends.push_back(s);
  }
  int64_t offset = 0;
  for (auto [key, start, sum] : std::vector<std::tuple<std::string, int64_t, int64_t>>{
           {"a", -500, 1}, {"a", 0, 3}, {"b", 0, 10}, {"a", 500, 5}, {"b", 500, 10}, {"a", 1000, 3}})
    h.output.push_back(WindowResult{0, offset++, key, start, start + 1000, engine::Value(sum), "1", "0"});
  h.final_read_done = true;
  h.settled = true;
  h.stuck.clear();
  return h;
}

const PropertyResult& prop(const std::vector<PropertyResult>& all, const std::string& name) {
  for (const auto& p : all)
    if (p.name == name) return p;
  FAIL("no property " << name);
  return all.front();
}

}  // namespace

TEST_CASE("the general reference evaluates the scenario's sliding-window sum", "[harness][pipeline][reference]") {
  const PipelineHistory h = sliding_sum();
  auto r = reference_results(h);
  REQUIRE(r.ok());
  CHECK(r->size() == 6);
  CHECK(r->at({"a", 500, 1500}) == engine::Value(5));
  for (const auto& p : check_exactly_once(h)) {
    INFO(p.name << ": " << p.evidence);
    CHECK(p.held);
  }
}

TEST_CASE("a sliding-window sum with one wrong value is caught with its window and key",
          "[harness][pipeline][reference]") {
  SECTION("a value above the reference: input counted twice") {
    PipelineHistory h = sliding_sum();
    h.output[3].value = engine::Value(7);  // a@[500,1500): 2 counted twice
    const auto all = check_exactly_once(h);
    CHECK(prop(all, "no_losses").held);
    REQUIRE_FALSE(prop(all, "no_duplicates").held);
    CHECK(prop(all, "no_duplicates").evidence.find("window a@[500,1500): expected 5, got 7") != std::string::npos);
  }
  SECTION("a value below the reference: input lost") {
    PipelineHistory h = sliding_sum();
    h.output[2].value = engine::Value(0);
    const auto all = check_exactly_once(h);
    CHECK(prop(all, "no_duplicates").held);
    REQUIRE_FALSE(prop(all, "no_losses").held);
    CHECK(prop(all, "no_losses").evidence.find("window b@[0,1000): expected 10, got 0") != std::string::npos);
  }
  SECTION("a value of another type (a double for an int64 sum)") {
    PipelineHistory h = sliding_sum();
    h.output[0].value = engine::Value(1.0);
    REQUIRE_FALSE(prop(check_exactly_once(h), "no_losses").held);
  }
  SECTION("a missing window") {
    PipelineHistory h = sliding_sum();
    h.output.pop_back();
    const auto all = check_exactly_once(h);
    REQUIRE_FALSE(prop(all, "no_losses").held);
    CHECK(prop(all, "no_losses").evidence.find("window a@[1000,2000) missing: expected 3") != std::string::npos);
  }
}

TEST_CASE("session lateness is judged per event (t + lateness < watermark)", "[harness][pipeline][reference]") {
  PipelineHistory h;
  h.spec = ReferenceSpec{"events", 1500, 200, 0, plan_of({{"window", "session"}, {"gap", "1500ms"}, {"aggregate", "max"}})};
  h.input = {InputEvent{0, 0, "a", 100, 4, false}, InputEvent{0, 1, "a", 1000, 9, false},
             InputEvent{0, 2, "a", 5000, 2, false}, InputEvent{0, 3, "a", 300, 7, false}};
  h.output = {WindowResult{0, 0, "a", 100, 2500, engine::Value(9), "1", "0"},
              WindowResult{0, 1, "a", 5000, 6500, engine::Value(2), "2", "0"}};
  h.final_read_done = true;
  h.settled = true;
  SECTION("an event strictly behind the watermark is late, and in no session") {
    h.late = {LateResult{0, 0, "events[0]@3", 300, 301, true}};
    CHECK(prop(check_watermarks(h), "late_behind_watermark").held);
    for (const auto& p : check_exactly_once(h)) {
      INFO(p.name << ": " << p.evidence);
      CHECK(p.held);
    }
  }
  SECTION("an event at the watermark is on time") {
    h.late = {LateResult{0, 0, "events[0]@3", 300, 300, true}};
    REQUIRE_FALSE(prop(check_watermarks(h), "late_behind_watermark").held);
  }
}
