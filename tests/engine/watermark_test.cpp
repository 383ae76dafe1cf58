// Watermarks: per partition max event time - delay, global minimum over non-idle
// partitions, advancing only at batch boundaries and never backwards (also across
// a restore); the observer reports every advance and every late drop; the TEST
// skew knob breaks the watermark on purpose, and the breakage is detectable.
#include "engine_test_util.h"

#include <map>

using namespace streamsim;
using namespace streamsim::engine;
using namespace streamsim::engine::testing;

namespace {

struct Recorder final : EngineObserver {
  std::vector<WatermarkAdvance> advances;
  std::vector<LateEvent> lates;
  std::vector<DeadLetter> dead;
  std::vector<BatchSummary> batches;
  void on_watermark(const WatermarkAdvance& a) override { advances.push_back(a); }
  void on_late(const LateEvent& e) override { lates.push_back(e); }
  void on_dead_letter(const DeadLetter& d) override { dead.push_back(d); }
  void on_batch(const BatchSummary& b) override { batches.push_back(b); }
};

}  // namespace

TEST_CASE("the watermark is max event time minus the delay, and never goes backwards", "[engine][watermark]") {
  TestStream ts(tumbling_count(10, 5));
  CHECK(ts.query().watermark() == Watermark::min());
  ts.add("u", 1, ms(100));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(95));
  ts.add("u", 1, ms(50)).add("u", 1, ms(98));  // older events do not lower it
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(95));
  ts.add("u", 1, ms(120));
  auto out = ts.run_batch();
  REQUIRE(out);
  // Late checks use the watermark the batch started with; it advances at the end.
  CHECK(out->watermark_start == Watermark::from_ms(95));
  CHECK(out->watermark_end == Watermark::from_ms(115));
}

TEST_CASE("the global watermark is the minimum over partitions, and a silent partition holds it until idle",
          "[engine][watermark]") {
  auto p = built(source("clicks")
                     .with_watermark(Duration::millis(0))
                     .idle_timeout(Duration::millis(100))
                     .window(WindowSpec::tumbling(Duration::millis(10)))
                     .aggregate(Aggregate::count())
                     .build());
  Recorder rec;
  TestStreamOptions opts;
  opts.partitions = 2;
  opts.engine.observer = &rec;
  TestStream ts(p, opts);
  ts.add("a", 1, ms(50), 0);
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::min());  // partition 1 has seen nothing
  ts.add("b", 1, ms(30), 1);
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(30));  // min(50, 30)
  ts.add("a", 1, ms(80), 0);
  ts.advance_processing_time(Duration::millis(99));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(30));  // partition 1 silent for 99ms: not idle yet
  ts.advance_processing_time(Duration::millis(1));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(80));  // idle: only partition 0 counts
  REQUIRE(!rec.advances.empty());
  CHECK(rec.advances.back().idle_partitions == 1);
  CHECK(rec.advances.back().active_partitions == 1);
  // The idle partition comes back with old data: the watermark stays, the data is late.
  ts.add("b", 1, ms(40), 1);
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(80));
  CHECK(ts.query().metrics().late_dropped == 1);
  REQUIRE(rec.lates.size() == 1);
  CHECK(to_string(rec.lates[0].source) == "clicks[1]@1");
  CHECK(rec.lates[0].watermark == Watermark::from_ms(80));
  for (size_t i = 1; i < rec.advances.size(); ++i) CHECK(rec.advances[i].from >= rec.advances[i - 1].to);
  for (const auto& a : rec.advances) CHECK(a.from < a.to);
  CHECK(rec.batches.size() == 5);
}

TEST_CASE("without an idle timeout, a silent partition holds the watermark forever", "[engine][watermark]") {
  TestStreamOptions opts;
  opts.partitions = 2;
  TestStream ts(tumbling_count(10, 0), opts);
  ts.add("a", 1, ms(50), 0);
  ts.advance_processing_time(Duration::seconds(3600));
  REQUIRE(ts.run_batch());
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::min());
}

TEST_CASE("the watermark survives a restore and never goes backwards after it", "[engine][watermark][restore]") {
  TestStream ts(tumbling_count(10, 5));
  ts.add("u", 1, ms(100)).add("u", 1, ms(93));
  REQUIRE(ts.run_batch());
  REQUIRE(ts.query().watermark() == Watermark::from_ms(95));
  const uint64_t next = ts.query().next_batch();

  SECTION("from a snapshot") { REQUIRE(ts.restore(ts.snapshot())); }
  SECTION("from the concatenated changelog") { REQUIRE(ts.restore(ts.changelog())); }

  CHECK(ts.query().watermark() == Watermark::from_ms(95));
  CHECK(ts.query().next_batch() == next);
  // Old events after the restore are judged against the restored watermark.
  ts.add("u", 1, ms(60)).add("u", 1, ms(96));
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->watermark_start == Watermark::from_ms(95));
  CHECK(ts.query().metrics().late_dropped == 1);
  ts.advance_watermark_to(Watermark::max());
  CHECK(run(ts) == Rows{"key=\"u\" window=[90ms,100ms) value=2", "key=\"u\" window=[100ms,110ms) value=1"});
}

TEST_CASE("a pipeline without a watermark has none: nothing is late, floors are ignored", "[engine][watermark]") {
  auto p = built(source("clicks").aggregate(Aggregate::count()).output(OutputMode::update).build());
  TestStream ts(p);
  ts.add("u", 1, ms(100));
  ts.advance_watermark_to(Watermark::max());
  REQUIRE(ts.run_batch());
  ts.add("u", 1, ms(1));
  CHECK(run(ts) == Rows{"key=\"u\" value=2"});
  CHECK(ts.query().watermark() == Watermark::min());
}

TEST_CASE("canary: a positive TEST watermark skew closes windows early and drops on-time events",
          "[engine][watermark][canary]") {
  // Input whose disorder stays within the delay: with a correct watermark no
  // event is late. A checker that recomputes the watermark from the input
  // (max event time - delay) must flag both symptoms of the skew.
  auto drive = [](int64_t skew, Recorder& rec) {
    TestStreamOptions opts;
    opts.engine.TEST_watermark_skew_ms = skew;
    opts.engine.observer = &rec;
    TestStream ts(tumbling_count(10, 5), opts);
    ts.add("u", 1, ms(12));
    REQUIRE(ts.run_batch());
    ts.add("u", 1, ms(8));  // 12 - 8 = 4 <= delay 5: on time
    REQUIRE(ts.run_batch());
    ts.advance_watermark_to(Watermark::max());
    REQUIRE(ts.run_batch());
    return ts.history();
  };
  auto early_or_dropped = [](const std::vector<BatchOutput>& hist, const Recorder& rec) {
    // The true watermark at the end of each batch, recomputed from the input
    // above: batch 1 and 2 end at 12 - 5 = 7, batch 3 at the end of input.
    const std::vector<int64_t> true_end = {7, 7, std::numeric_limits<int64_t>::max()};
    auto true_start = [&](uint64_t batch) {
      return batch == 1 ? std::numeric_limits<int64_t>::min() : true_end[batch - 2];
    };
    int violations = 0;
    for (size_t b = 0; b < hist.size(); ++b)
      for (const auto& r : hist[b].rows())
        if (r.window->end.ms() > true_end[b]) ++violations;  // emitted before the true watermark passed its end
    for (const auto& l : rec.lates) {
      const int64_t window_end = (l.event_time.ms() / 10) * 10 + 10;
      if (window_end > true_start(l.batch)) ++violations;  // its window was still open: an on-time event
    }
    return violations;
  };
  Recorder ok_rec, skew_rec;
  CHECK(early_or_dropped(drive(0, ok_rec), ok_rec) == 0);
  CHECK(early_or_dropped(drive(5, skew_rec), skew_rec) > 0);
  CHECK(skew_rec.lates.size() == 1);
}
