// Window assignment, emission per output mode, allowed lateness and session
// merging, including the boundary cases: an event exactly at a window's end, at
// the watermark, and at the allowed lateness.
#include "engine_test_util.h"

#include <map>
#include <set>

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;

TEST_CASE("tumbling windows are half-open: an event at the end belongs to the next window", "[engine][window]") {
  // Event time from the value, so that times before the epoch can be used
  // (a Kafka record timestamp below 0 means "none").
  auto p = built(source("clicks")
                     .event_time(event_times::value_ms())
                     .window(WindowSpec::tumbling(Duration::millis(10)))
                     .aggregate(Aggregate::count())
                     .output(OutputMode::complete)
                     .build());
  TestStream ts(p);
  for (int t : {0, 9, 10, -1, -10}) ts.add("u", t, ms(0));
  CHECK(run(ts) == Rows{"key=\"u\" window=[-10ms,0ms) value=2", "key=\"u\" window=[0ms,10ms) value=2",
                        "key=\"u\" window=[10ms,20ms) value=1"});
}

TEST_CASE("sliding windows put an event into every window covering it", "[engine][window]") {
  auto p = built(source("clicks")
                     .event_time(event_times::value_ms())
                     .window(WindowSpec::sliding(Duration::millis(10), Duration::millis(5)))
                     .aggregate(Aggregate::count())
                     .output(OutputMode::complete)
                     .build());
  TestStream ts(p);
  ts.add("u", 7, ms(0));
  CHECK(run(ts) == Rows{"key=\"u\" window=[0ms,10ms) value=1", "key=\"u\" window=[5ms,15ms) value=1"});
  ts.add("u", 5, ms(0)).add("u", -3, ms(0));
  CHECK(run(ts) == Rows{"key=\"u\" window=[-10ms,0ms) value=1", "key=\"u\" window=[-5ms,5ms) value=1",
                        "key=\"u\" window=[0ms,10ms) value=2", "key=\"u\" window=[5ms,15ms) value=2"});
}

TEST_CASE("sliding windows whose slide does not divide the size", "[engine][window]") {
  auto p = built(source("clicks")
                     .window(WindowSpec::sliding(Duration::millis(10), Duration::millis(4)))
                     .aggregate(Aggregate::count())
                     .output(OutputMode::complete)
                     .build());
  TestStream ts(p);
  ts.add("u", 1, ms(9));  // starts 8, 4, 0 cover 9; start -4 ends at 6
  CHECK(run(ts) == Rows{"key=\"u\" window=[0ms,10ms) value=1", "key=\"u\" window=[4ms,14ms) value=1",
                        "key=\"u\" window=[8ms,18ms) value=1"});
}

TEST_CASE("append: a window is emitted once, when the watermark reaches its end", "[engine][window][append]") {
  TestStream ts(tumbling_count(10, 0));
  ts.add("u1", 1, ms(1)).add("u1", 1, ms(5)).add("u2", 1, ms(9));
  CHECK(run(ts).empty());  // watermark 9 < end 10
  CHECK(ts.query().watermark() == Watermark::from_ms(9));
  ts.add("u1", 1, ms(10));  // watermark 10 reaches the end of [0,10)
  CHECK(run(ts) == Rows{"key=\"u1\" window=[0ms,10ms) value=2", "key=\"u2\" window=[0ms,10ms) value=1"});
  // Nothing more for [0,10): a later event for it is late, and it is not re-emitted.
  ts.add("u1", 1, ms(9)).add("u1", 1, ms(12));
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().late_dropped == 1);
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"u1\" window=[10ms,20ms) value=2"});
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().windows_emitted == 3);
  CHECK(ts.query().metrics().state_entries == 0);  // emitted windows are dropped from state
}

TEST_CASE("append: an event exactly at the watermark is on time", "[engine][window][append]") {
  TestStream ts(tumbling_count(10, 5));
  ts.add("u", 1, ms(20));
  CHECK(run(ts) == Rows{});  // watermark 15: [0,10) had nothing, [20,30) open
  ts.add("u", 1, ms(15));    // exactly at the watermark, window [10,20) still open
  ts.add("u", 1, ms(9));     // window [0,10) is closed (15 >= 10): late
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().late_dropped == 1);
  ts.add("u", 1, ms(25));  // watermark 20 closes [10,20)
  CHECK(run(ts) == Rows{"key=\"u\" window=[10ms,20ms) value=1"});
}

TEST_CASE("append with allowed lateness: emitted when the watermark reaches end + lateness", "[engine][window][lateness]") {
  TestStream ts(tumbling_count(10, 0, OutputMode::append, 5));
  ts.add("u", 1, ms(3)).add("u", 1, ms(14));
  CHECK(run(ts).empty());  // watermark 14 < 10 + 5
  ts.add("u", 1, ms(4));   // behind the watermark but within the lateness: counted
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().late_dropped == 0);
  ts.add("u", 1, ms(15));  // watermark 15 = end + lateness: closes [0,10)
  CHECK(run(ts) == Rows{"key=\"u\" window=[0ms,10ms) value=2"});
  ts.add("u", 1, ms(9));  // now beyond the lateness
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().late_dropped == 1);
}

TEST_CASE("late events routed to the late output keep their provenance", "[engine][window][lateness]") {
  TestStream ts(tumbling_count(10, 0, OutputMode::append, 0, LatePolicy::route));
  ts.add("u", 1, ms(30));
  REQUIRE(run(ts).empty());
  ts.add("u", 1, ms(2));
  auto out = ts.run_batch();
  REQUIRE(out);
  REQUIRE(out->late().size() == 1);
  CHECK(out->late()[0].event_time == ms(2));
  CHECK(to_string(out->late()[0].source) == "clicks[0]@1");
  CHECK(ts.query().metrics().late_routed == 1);
  CHECK(ts.query().metrics().late_dropped == 0);
}

TEST_CASE("update: each batch emits the windows it changed, and eviction emits nothing", "[engine][window][update]") {
  TestStream ts(tumbling_count(10, 0, OutputMode::update));
  ts.add("u1", 1, ms(1)).add("u1", 1, ms(2));
  CHECK(run(ts) == Rows{"key=\"u1\" window=[0ms,10ms) value=2"});
  ts.add("u1", 1, ms(3));
  CHECK(run(ts) == Rows{"key=\"u1\" window=[0ms,10ms) value=3"});
  ts.add("u2", 1, ms(4));
  CHECK(run(ts) == Rows{"key=\"u2\" window=[0ms,10ms) value=1"});
  CHECK(run(ts).empty());  // nothing changed
  ts.advance_watermark_to(Watermark::from_ms(10));
  CHECK(run(ts).empty());  // evicted silently
  CHECK(ts.query().metrics().state_entries == 0);
  ts.add("u1", 1, ms(5));
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().late_dropped == 1);
}

TEST_CASE("complete: every batch emits the whole result table", "[engine][window][complete]") {
  auto p = built(source("clicks").key_by([](const Row& r) { return r.key; }).aggregate(Aggregate::sum()).output(OutputMode::complete).build());
  TestStream ts(p);
  ts.add("a", 2, ms(1)).add("b", 5, ms(1)).add("a", 3, ms(2));
  CHECK(run(ts) == Rows{"key=\"a\" value=5", "key=\"b\" value=5"});
  ts.add("b", 1, ms(3));
  CHECK(run(ts) == Rows{"key=\"a\" value=5", "key=\"b\" value=6"});
  CHECK(run(ts) == Rows{"key=\"a\" value=5", "key=\"b\" value=6"});
}

TEST_CASE("aggregates: count, sum, min, max, avg and fold, with nulls skipped", "[engine][aggregate]") {
  auto run_agg = [](Aggregate a) {
    auto p = built(source("clicks").aggregate(std::move(a)).output(OutputMode::complete).build());
    TestStream ts(p);
    ts.add("k", 4, ms(1)).add("k", Value(), ms(2)).add("k", -2, ms(3)).add("k", 7, ms(4));
    return run(ts);
  };
  CHECK(run_agg(Aggregate::count()) == Rows{"key=\"k\" value=4"});
  CHECK(run_agg(Aggregate::sum()) == Rows{"key=\"k\" value=9"});
  CHECK(run_agg(Aggregate::min()) == Rows{"key=\"k\" value=-2"});
  CHECK(run_agg(Aggregate::max()) == Rows{"key=\"k\" value=7"});
  CHECK(run_agg(Aggregate::avg()) == Rows{"key=\"k\" value=3"});
  CHECK(run_agg(Aggregate::fold(Value(""), [](const Value& acc, const Row& r) {
          return Value(acc.as_string() + (r.value.is_null() ? "_" : r.value.to_string()));
        })) == Rows{"key=\"k\" value=\"4_-27\""});
}

TEST_CASE("session windows: per key, overlapping sessions merge, touching ones do not", "[engine][window][session]") {
  auto p = built(source("clicks")
                     .event_time(event_times::value_ms())
                     .window(WindowSpec::session(Duration::millis(10)))
                     .aggregate(Aggregate::count())
                     .output(OutputMode::complete)
                     .build());
  TestStream ts(p);
  ts.add("u", 0, ms(0)).add("u", 5, ms(0)).add("u", 30, ms(0)).add("v", 1, ms(0));
  CHECK(run(ts) == Rows{"key=\"u\" window=[0ms,15ms) value=2", "key=\"u\" window=[30ms,40ms) value=1",
                        "key=\"v\" window=[1ms,11ms) value=1"});
  ts.add("u", 15, ms(0));  // exactly at the end of [0,15): a new session
  CHECK(run(ts) == Rows{"key=\"u\" window=[0ms,15ms) value=2", "key=\"u\" window=[15ms,25ms) value=1",
                        "key=\"u\" window=[30ms,40ms) value=1", "key=\"v\" window=[1ms,11ms) value=1"});
  ts.add("u", 22, ms(0));  // [22,32) bridges [15,25) and [30,40)
  CHECK(run(ts) == Rows{"key=\"u\" window=[0ms,15ms) value=2", "key=\"u\" window=[15ms,40ms) value=3",
                        "key=\"v\" window=[1ms,11ms) value=1"});
  ts.add("u", -20, ms(0));  // before everything: its own session
  ts.add("u", -6, ms(0));   // [-6,4) overlaps [0,15) but not [-20,-10), which ends before -6
  CHECK(run(ts) == Rows{"key=\"u\" window=[-20ms,-10ms) value=1", "key=\"u\" window=[-6ms,15ms) value=3",
                        "key=\"u\" window=[15ms,40ms) value=3", "key=\"v\" window=[1ms,11ms) value=1"});
}

TEST_CASE("session windows in append mode: emitted once when closed, and late events cannot reopen them",
          "[engine][window][session]") {
  auto p = built(source("clicks")
                     .with_watermark(Duration::millis(0))
                     .window(WindowSpec::session(Duration::millis(10)))
                     .aggregate(Aggregate::sum())
                     .output(OutputMode::append)
                     .build());
  TestStream ts(p);
  ts.add("u", 1, ms(0)).add("u", 2, ms(4)).add("u", 4, ms(20));
  CHECK(run(ts) == Rows{"key=\"u\" window=[0ms,14ms) value=3"});  // watermark 20 >= 14
  // t=5 would fall into the emitted session, but 5 < watermark 20: late.
  ts.add("u", 8, ms(5));
  CHECK(run(ts).empty());
  CHECK(ts.query().metrics().late_dropped == 1);
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"u\" window=[20ms,30ms) value=4"});
}

TEST_CASE("session merge with fold uses the merge function, in start order", "[engine][window][session]") {
  auto p = built(source("clicks")
                     .with_watermark(Duration::millis(100))
                     .window(WindowSpec::session(Duration::millis(10)))
                     .aggregate(Aggregate::fold(
                         Value(""), [](const Value& acc, const Row& r) { return Value(acc.as_string() + r.value.as_string()); },
                         [](const Value& a, const Value& b) { return Value(a.as_string() + "+" + b.as_string()); }))
                     .output(OutputMode::append)
                     .build());
  TestStream ts(p);
  ts.add("k", "a", ms(0)).add("k", "c", ms(12)).add("k", "b", ms(9));  // [9,19) bridges [0,10) and [12,22)
  CHECK(run(ts).empty());
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"k\" window=[0ms,22ms) value=\"a+cb\""});
}

TEST_CASE("every (key, window) is emitted exactly once in append mode", "[engine][window][append]") {
  TestStream ts(tumbling_count(7, 3));
  for (int b = 0; b < 20; ++b) {
    for (int i = 0; i < 5; ++i) ts.add(Value(int64_t{(b + i) % 3}), 1, ms(b * 5 + (i * 7) % 6));
    REQUIRE(ts.run_batch());
  }
  ts.advance_watermark_to(Watermark::max());
  REQUIRE(ts.run_batch());
  std::set<std::string> seen;
  int64_t total = 0;
  for (const auto& out : ts.history())
    for (const auto& r : out.rows()) {
      CHECK(seen.insert(r.key.to_string() + "@" + to_string(r.window->start)).second);
      total += r.value.as_int();
    }
  CHECK(total + static_cast<int64_t>(ts.query().metrics().late_dropped) == 100);
}
