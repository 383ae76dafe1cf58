// select_max_per_window(): per closed window, only the keys whose aggregate is
// the window's maximum are emitted (all ties, in key order).
#include "engine_test_util.h"

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;

namespace {

Pipeline hottest(WindowSpec w, Aggregate a = Aggregate::count()) {
  return built(source("clicks")
                   .with_watermark(Duration::millis(0))
                   .window(w)
                   .aggregate(std::move(a))
                   .select_max_per_window()
                   .build());
}

}  // namespace

TEST_CASE("select_max_per_window emits the keys with the window's largest count, ties in key order", "[engine]") {
  TestStream ts(hottest(WindowSpec::tumbling(Duration::millis(10))));
  ts.add("a", 1, ms(0)).add("b", 1, ms(1)).add("b", 1, ms(2)).add("c", 1, ms(3)).add("c", 1, ms(9));
  ts.add("a", 1, ms(10)).add("b", 1, ms(11)).add("b", 1, ms(12));
  CHECK(run(ts) == Rows{"key=\"b\" window=[0ms,10ms) value=2", "key=\"c\" window=[0ms,10ms) value=2"});
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"b\" window=[10ms,20ms) value=2"});
  CHECK(ts.query().metrics().windows_emitted == 3);
  CHECK(ts.query().metrics().state_entries == 0);  // the keys not selected are evicted too
}

TEST_CASE("select_max_per_window over sliding windows selects per window", "[engine]") {
  TestStream ts(hottest(WindowSpec::sliding(Duration::millis(10), Duration::millis(5))));
  // a at 1, 2; b at 6, 7, 8: window [0,10) has a:2 b:3, [5,15) has b:3 only, [-5,5) has a:2.
  ts.add("a", 1, ms(1)).add("a", 1, ms(2)).add("b", 1, ms(6)).add("b", 1, ms(7)).add("b", 1, ms(8));
  // The watermark (8) closes [-5,5) only.
  CHECK(run(ts) == Rows{"key=\"a\" window=[-5ms,5ms) value=2"});
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"b\" window=[0ms,10ms) value=3", "key=\"b\" window=[5ms,15ms) value=3"});
}

TEST_CASE("select_max_per_window with max joins a window's highest value back to its keys", "[engine]") {
  // Each row is its own key (a bid), aggregated to its value (a price).
  TestStream ts(hottest(WindowSpec::tumbling(Duration::millis(10)), Aggregate::max()));
  ts.add("bid1", 5, ms(0)).add("bid2", 9, ms(1)).add("bid3", 9, ms(2)).add("bid4", 7, ms(3)).add("bid6", 9.0, ms(4));
  ts.add("bid5", 1, ms(12));
  // Ties are equal values; as for max, the double 9.0 ranks above the int 9.
  CHECK(run(ts) == Rows{"key=\"bid6\" window=[0ms,10ms) value=9"});
  TestStream ints(hottest(WindowSpec::tumbling(Duration::millis(10)), Aggregate::max()));
  ints.add("bid1", 5, ms(0)).add("bid2", 9, ms(1)).add("bid3", 9, ms(2)).add("bid4", 7, ms(3)).add("bid5", 1, ms(12));
  CHECK(run(ints) == Rows{"key=\"bid2\" window=[0ms,10ms) value=9", "key=\"bid3\" window=[0ms,10ms) value=9"});
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"bid5\" window=[10ms,20ms) value=1"});
}

TEST_CASE("select_max_per_window survives a restore from the changelog", "[engine]") {
  auto p = hottest(WindowSpec::tumbling(Duration::millis(10)));
  TestStream a(p), b(p);
  for (TestStream* ts : {&a, &b}) ts->add("x", 1, ms(0)).add("y", 1, ms(1)).add("y", 1, ms(2));
  (void)run(a);
  (void)run(b);
  REQUIRE(b.restore(b.changelog()).ok());
  for (TestStream* ts : {&a, &b}) {
    ts->add("x", 1, ms(3)).add("x", 1, ms(4));
    CHECK(run(*ts).empty());
    ts->advance_watermark_to(Watermark::max());
    CHECK(run(*ts) == Rows{"key=\"x\" window=[0ms,10ms) value=3"});
  }
}

TEST_CASE("select_max_per_window is refused where a window's results are not final or have no peers", "[engine]") {
  auto sess = source("clicks").with_watermark(Duration::millis(0)).window(WindowSpec::session(Duration::millis(5)))
                  .aggregate(Aggregate::count()).select_max_per_window().build();
  REQUIRE(!sess.ok());
  CHECK(sess.error().field == "select_max_per_window");
  auto upd = source("clicks").with_watermark(Duration::millis(0)).window(WindowSpec::tumbling(Duration::millis(5)))
                 .aggregate(Aggregate::count()).select_max_per_window().output(OutputMode::update).build();
  REQUIRE(!upd.ok());
  CHECK(upd.error().field == "select_max_per_window");
  auto unwindowed = source("clicks").aggregate(Aggregate::count()).select_max_per_window().output(OutputMode::update).build();
  REQUIRE(!unwindowed.ok());
  CHECK(unwindowed.error().field == "select_max_per_window");
  auto early = source("clicks").with_watermark(Duration::millis(0)).select_max_per_window().build();
  REQUIRE(!early.ok());
  CHECK(early.error().field == "select_max_per_window");
  CHECK(hottest(WindowSpec::tumbling(Duration::millis(10))).describe().find("select_max_per_window") != std::string::npos);
}
