// The page-views pipeline's operators, without Kafka: example-based tests with
// streamsim's PipelineDriver, and a property over generated disordered input
// checked against streamsim's batch reference.
#include "page_views.h"

#include <streamsim/testing/driver.h>
#include <streamsim/testing/generators.h>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>

using streamsim::testing::EmitsRows;
using streamsim::testing::EmitsRowsInAnyOrder;
using streamsim::testing::PipelineDriver;

TEST_CASE("page views are counted per user and window; health checks are not") {
  PipelineDriver d(page_views::build({}));
  d.add("alice", 1, 100).add("healthcheck", 2, 200).add("alice", 3, 1'900).add("bob", 4, 1'000);
  d.add("alice", 5, 2'500);
  CHECK_THAT(d.finish(), EmitsRowsInAnyOrder({"key=\"alice\" window=[0ms,2000ms) value=2",
                                              "key=\"bob\" window=[0ms,2000ms) value=1",
                                              "key=\"alice\" window=[2000ms,4000ms) value=1"}));
}

TEST_CASE("a view behind the watermark is routed late, not counted") {
  PipelineDriver d(page_views::build({}));
  d.add("alice", 1, 5'000);
  REQUIRE_THAT(d.batch(), EmitsRows({}));  // the watermark is now 4s
  d.add("alice", 2, 1'000);                // its window [0s, 2s) closed
  d.restart();                             // and the state survives a crash
  CHECK_THAT(d.finish(), EmitsRows({"key=\"alice\" window=[4000ms,6000ms) value=1"}));
  CHECK(d.late().size() == 1);
}

TEST_CASE("page-views is registered with its parameters") {
  streamsim::engine::PipelineRegistry reg;
  reg.add(page_views::registry_entry());
  auto p = reg.build("page-views", {{"window", "5s"}});
  REQUIRE(p.ok());
  CHECK(p->plan().window_size_ms == 5'000);
  CHECK_FALSE(reg.build("page-views", {{"window", "soon"}}).ok());
}

TEST_CASE("with disorder within the watermark delay, page views equal the batch reference in any batching") {
  rc::prop("streaming equals batch", [] {
    streamsim::testing::DisorderSpec spec;
    spec.keys = 4;
    spec.max_out_of_order_ms = 1'000;  // = the watermark delay
    spec.late_fraction = 0.1;          // these may be routed late
    spec.duplicate_fraction = 0.05;
    spec.max_events = 80;
    const auto events = *streamsim::testing::gen::events(spec);
    const auto batch = *rc::gen::inRange<size_t>(1, 25);
    auto built = page_views::build({});
    RC_ASSERT(built.ok());
    streamsim::engine::TestStream ts(*built);
    std::vector<std::string> rows;
    std::vector<streamsim::engine::Row> late;
    auto run = [&] {
      auto b = ts.run_batch();
      RC_ASSERT(b.ok());
      for (auto& r : streamsim::engine::TestStream::format(b->rows())) rows.push_back(r);
      for (auto& r : b->late()) late.push_back(r);
    };
    for (size_t i = 0; i < events.size(); i += batch) {
      streamsim::testing::add_events(
          ts, {events.begin() + i, events.begin() + std::min(events.size(), i + batch)});
      run();
    }
    ts.advance_watermark_to(streamsim::engine::Watermark::max());
    run();
    for (const auto& r : late) RC_ASSERT(r.key.as_string() != "healthcheck");
    // Every on-time view is counted, exactly once: what the engine did not
    // route late equals the reference over the same views.
    std::sort(rows.begin(), rows.end());
    RC_ASSERT(rows == streamsim::testing::reference_rows(*built, streamsim::testing::without_late(events, late)));
  });
}
