// The Catch2 helpers (include/streamsim/testing/driver.h): PipelineDriver runs
// a pipeline batch by batch, and the rows matchers say which rows differ.
#include <streamsim/engine/pipeline.h>
#include <streamsim/testing/driver.h>

#include <catch2/catch.hpp>

using namespace streamsim;
using streamsim::testing::EmitsRows;
using streamsim::testing::EmitsRowsInAnyOrder;

namespace {

Result<engine::Pipeline, engine::EngineError> counts() {
  return engine::source("clicks")
      .with_watermark(Duration::seconds(1))
      .window(engine::WindowSpec::tumbling(Duration::seconds(10)))
      .aggregate(engine::Aggregate::count())
      .late_events(engine::LatePolicy::route)
      .sink("counts")
      .build();
}

}  // namespace

TEST_CASE("PipelineDriver runs batches and closes every window at the end of input") {
  testing::PipelineDriver d(counts());
  d.add("u1", 1, 1'000).add("u2", 1, 2'000).add("u1", 1, 3'000);
  REQUIRE_THAT(d.batch(), EmitsRows({}));
  d.add("u1", 1, 12'000);  // the batch ends with the watermark at 11s: [0s, 10s) closes
  REQUIRE_THAT(d.batch(), EmitsRowsInAnyOrder({"key=\"u1\" window=[0ms,10000ms) value=2",
                                               "key=\"u2\" window=[0ms,10000ms) value=1"}));
  d.add("u2", 1, 500);  // behind the watermark: late, routed
  d.restart();          // state survives a crash and restore
  REQUIRE_THAT(d.finish(), EmitsRows({"key=\"u1\" window=[10000ms,20000ms) value=1"}));
  REQUIRE(d.late().size() == 1);
  CHECK(d.late()[0].key == engine::Value("u2"));
  CHECK(d.emitted().size() == 3);
}

TEST_CASE("the rows matchers describe the difference line by line") {
  const std::vector<std::string> expected = {"a", "b", "c"};
  SECTION("ordered: a changed row is one removal and one addition; equal rows stay context") {
    auto m = EmitsRows(expected);
    REQUIRE(m.match({"a", "b", "c"}));
    REQUIRE_FALSE(m.match({"a", "x", "c"}));
    const std::string d = m.describe();
    CHECK(d.find("rows differ") != std::string::npos);
    CHECK(d.find("  - b\n") != std::string::npos);
    CHECK(d.find("  + x\n") != std::string::npos);
    CHECK(d.find("    a\n") != std::string::npos);
    CHECK_FALSE(m.match({"b", "a", "c"}));  // order matters
  }
  SECTION("unordered: compared as multisets") {
    auto m = EmitsRowsInAnyOrder(expected);
    REQUIRE(m.match({"c", "a", "b"}));
    REQUIRE_FALSE(m.match({"c", "a", "b", "b"}));
    CHECK(m.describe().find("  + b\n") != std::string::npos);
    REQUIRE_FALSE(m.match({"c", "a"}));
    CHECK(m.describe().find("  - b\n") != std::string::npos);
  }
  CHECK(testing::diff_rows({"a"}, {"a"}, true).empty());
}

TEST_CASE("reference_rows gives the batch reference's windows as the engine's row text") {
  auto built = counts();
  REQUIRE(built.ok());
  std::vector<testing::Event> events(3);
  events[0] = {"k1", 0, 1'000};
  events[1] = {"k1", 1, 9'999};
  events[2] = {"k2", 2, 10'000};
  CHECK_THAT(testing::reference_rows(*built, events),
             EmitsRows({"key=\"k1\" window=[0ms,10000ms) value=2", "key=\"k2\" window=[10000ms,20000ms) value=1"}));
}
