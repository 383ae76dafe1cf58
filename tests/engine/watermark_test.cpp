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

// --- scale-out: partitions owned by other instances -------------------------

namespace {

PartitionProgress progress(int64_t max_ms, int64_t next_offset, bool idle = false,
                           Watermark committed = Watermark::min()) {
  return PartitionProgress{ms(max_ms), next_offset, idle, committed};
}

Pipeline idle_count(int64_t idle_ms) {
  return built(source("clicks")
                   .with_watermark(Duration::millis(5))
                   .idle_timeout(Duration::millis(idle_ms))
                   .window(WindowSpec::tumbling(Duration::millis(10)))
                   .aggregate(Aggregate::count())
                   .build());
}

}  // namespace

TEST_CASE("a partition owned by another instance holds the global watermark at its committed progress",
          "[engine][watermark][scale-out]") {
  TestStream ts(tumbling_count(10, 5));  // owns partition 0
  ts.query().set_remote_progress(1, std::nullopt, ts.now());
  ts.add("u", 1, ms(100));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::min());  // partition 1 has committed nothing yet
  ts.query().set_remote_progress(1, progress(60, 3), ts.now());
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(55));  // min(100, 60) - 5
  // An owned event between the two watermarks is on time: its window is still open.
  ts.add("u", 1, ms(57));
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(ts.query().metrics().late_dropped == 0);
  ts.query().set_remote_progress(1, progress(300, 9), ts.now());
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(95));
  // Older progress read again (a previous owner's entry) does not lower it.
  ts.query().set_remote_progress(1, progress(10, 1), ts.now());
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(95));
}

TEST_CASE("a remote partition is idle when its owner says so, or when its progress stops for the idle timeout",
          "[engine][watermark][scale-out]") {
  Recorder rec;
  TestStreamOptions opts;
  opts.engine.observer = &rec;
  TestStream ts(idle_count(100), opts);
  ts.query().set_remote_progress(1, progress(30, 1), ts.now());
  ts.add("a", 1, ms(80));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(25));
  ts.advance_processing_time(Duration::millis(99));
  ts.query().set_remote_progress(1, progress(30, 1), ts.now());  // the same entry: no progress
  ts.add("a", 1, ms(81));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(25));
  ts.advance_processing_time(Duration::millis(1));
  ts.add("a", 1, ms(82));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(77));  // partition 1 idle: its owner is gone
  CHECK(rec.advances.back().idle_partitions == 1);
  CHECK(rec.advances.back().active_partitions == 1);
  // It comes back with progress: it holds again, but the watermark never goes back.
  ts.query().set_remote_progress(1, progress(40, 2), ts.now());
  ts.add("a", 1, ms(200));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(77));
  // An owner that marked its partition idle lets the watermark pass at once.
  ts.query().set_remote_progress(1, progress(40, 2, /*idle=*/true), ts.now());
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(195));
}

TEST_CASE("without an idle timeout a remote partition holds the watermark, whatever its owner says",
          "[engine][watermark][scale-out]") {
  TestStream ts(tumbling_count(10, 5));
  ts.query().set_remote_progress(1, progress(30, 1, /*idle=*/true), ts.now());
  ts.add("a", 1, ms(80));
  ts.advance_processing_time(Duration::seconds(3600));
  REQUIRE(ts.run_batch());
  CHECK(ts.query().watermark() == Watermark::from_ms(25));
}

TEST_CASE("another instance's committed watermark is a floor", "[engine][watermark][scale-out]") {
  Recorder rec;
  TestStreamOptions opts;
  opts.engine.observer = &rec;
  TestStream ts(tumbling_count(10, 5), opts);
  ts.add("u", 1, ms(100));
  REQUIRE(ts.run_batch());
  REQUIRE(ts.query().watermark() == Watermark::from_ms(95));
  ts.query().set_remote_progress(1, progress(500, 4, false, Watermark::from_ms(300)), ts.now());
  CHECK(ts.query().watermark() == Watermark::from_ms(300));
  ts.add("u", 1, ms(120));  // its window ends at 130 <= 300: late
  auto out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->watermark_start == Watermark::from_ms(300));
  CHECK(out->watermark_end == Watermark::from_ms(300));  // min(120, 500) - 5 = 115 < 300
  CHECK(ts.query().metrics().late_dropped == 1);
  for (size_t i = 1; i < rec.advances.size(); ++i) CHECK(rec.advances[i].from >= rec.advances[i - 1].to);
}

TEST_CASE("a task's meta entry carries its partition's progress and idleness for other instances",
          "[engine][watermark][scale-out]") {
  TestStreamOptions opts;
  opts.partitions = 2;
  TestStream ts(idle_count(100), opts);
  ts.add("a", 1, ms(50), 0).add("b", 1, ms(70), 1).add("b", 1, ms(60), 1);
  auto out = ts.run_batch();
  REQUIRE(out);
  const ChangelogEntry& meta = out->tasks.at(1).changelog.back();
  REQUIRE(meta.value);
  auto got = decode_progress(meta.key, *meta.value);
  REQUIRE(got);
  CHECK(*got == PartitionProgress{ms(70), 2, false, Watermark::from_ms(45)});
  // A state entry is not a meta entry.
  REQUIRE(out->tasks.at(1).changelog.size() >= 2);
  const ChangelogEntry& state = out->tasks.at(1).changelog.front();
  CHECK_FALSE(decode_progress(state.key, state.value.value_or("")).has_value());
  // Partition 1 goes silent: its next meta entry says it is idle.
  ts.advance_processing_time(Duration::millis(100));
  ts.add("a", 1, ms(90), 0);
  out = ts.run_batch();
  REQUIRE(out);
  CHECK(out->tasks.at(1).idle);
  CHECK_FALSE(out->tasks.at(0).idle);
  got = decode_progress(out->tasks.at(1).changelog.back().key, *out->tasks.at(1).changelog.back().value);
  REQUIRE(got);
  CHECK(got->idle);
  CHECK(got->watermark == Watermark::from_ms(85));
  // Idleness survives a restore.
  REQUIRE(ts.restore(ts.snapshot()));
  REQUIRE(ts.query().task(1) != nullptr);
  CHECK(ts.query().task(1)->idle());
}

TEST_CASE("merging progress readings only moves forward", "[engine][watermark][scale-out]") {
  const PartitionProgress a = progress(100, 10, false, Watermark::from_ms(50));
  const PartitionProgress older = progress(80, 7, true, Watermark::from_ms(40));
  CHECK(merge_progress(a, older) == a);  // an older reading changes nothing, idleness included
  const PartitionProgress newer = progress(90, 12, true, Watermark::from_ms(60));
  CHECK(merge_progress(a, newer) == progress(100, 12, true, Watermark::from_ms(60)));
}
